"""Signing a document by one-time SMS code or EDS; both give a `SignatureEvidence`."""

# Both methods bind the signature to the document's exact bytes (its SHA-256) and refuse
# with a `SigningError` subclass carrying an HTTP status, a `reason` code and a message.

from webapp.signing.canonical import canonical_bytes
from webapp.signing.codes import CodeChallenge, CodeSettings, request_code, verify_code
from webapp.signing.demo_ca import (
    DemoCA,
    DemoSigner,
    PersonCredentials,
    issue_person_certificate,
    make_demo_ca,
)
from webapp.signing.eds import certificate_iin, sign_cms, sign_with_files, verify_cms
from webapp.signing.errors import SigningError
from webapp.signing.evidence import SignatureEvidence, SigningMethod

__all__ = [
    "CodeChallenge",
    "CodeSettings",
    "DemoCA",
    "DemoSigner",
    "PersonCredentials",
    "SignatureEvidence",
    "SigningError",
    "SigningMethod",
    "canonical_bytes",
    "certificate_iin",
    "issue_person_certificate",
    "make_demo_ca",
    "request_code",
    "sign_cms",
    "sign_with_files",
    "verify_cms",
    "verify_code",
]
