"""Signing an application document: one-time SMS codes and EDS, both yielding one evidence.

Both methods bind the signature to the SHA-256 of the document's canonical bytes, return a
`SignatureEvidence` to keep with the application, and refuse with a `SigningError`.
"""

from webapp.signing.canonical import canonical_bytes, document_sha256
from webapp.signing.codes import CodeChallenge, CodeSettings, request_code, verify_code
from webapp.signing.demo_ca import (
    DemoCA,
    PersonCredentials,
    issue_person_certificate,
    make_demo_ca,
)
from webapp.signing.eds import certificate_iin, sign, sign_document, verify_eds
from webapp.signing.errors import SigningError
from webapp.signing.evidence import SignatureEvidence, SigningMethod

__all__ = [
    "CodeChallenge",
    "CodeSettings",
    "DemoCA",
    "PersonCredentials",
    "SignatureEvidence",
    "SigningError",
    "SigningMethod",
    "canonical_bytes",
    "certificate_iin",
    "document_sha256",
    "issue_person_certificate",
    "make_demo_ca",
    "request_code",
    "sign",
    "sign_document",
    "verify_code",
    "verify_eds",
]
