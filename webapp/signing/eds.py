"""EDS: sign a document with a key, and verify a detached signature against an X.509 chain."""

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from webapp.signing.canonical import canonical_bytes, document_sha256
from webapp.signing.errors import (
    CertificateExpired,
    CertificateNotForSigning,
    CertificateNotYetValid,
    CertificateOfAnotherPerson,
    CertificateUnreadable,
    CertificateUntrusted,
    KeyDoesNotMatchCertificate,
    KeyUnsupported,
    SignatureInvalid,
)
from webapp.signing.evidence import SignatureEvidence, SigningMethod

# The national certification authority writes the holder's IIN into the subject serial number.
_SUBJECT_IIN = re.compile(r"^IIN(\d{12})$")
_NAMES = {NameOID.SERIAL_NUMBER: "serialNumber"}


def sign(document: Mapping[str, Any], private_key: Any) -> bytes:
    """Return a detached signature of the document's canonical bytes (RSA or ECDSA, SHA-256)."""
    data = canonical_bytes(document)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    raise KeyUnsupported("Only RSA and elliptic-curve keys can sign.")


def sign_document(
    document_path: str | Path,
    key_path: str | Path,
    cert_path: str | Path,
    password: bytes | None = None,
) -> str:
    """Sign a JSON document file with a PEM key whose certificate is given; return base64."""
    document = json.loads(Path(document_path).read_text(encoding="utf-8"))
    private_key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password)
    certificate = _load_certificate(Path(cert_path).read_bytes())
    if _public_der(private_key.public_key()) != _public_der(certificate.public_key()):
        raise KeyDoesNotMatchCertificate("The key does not belong to the certificate.")
    return base64.b64encode(sign(document, private_key)).decode("ascii")


def _public_der(key: Any) -> bytes:
    """Return a public key's DER encoding, to compare two keys."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_certificate(pem: bytes) -> x509.Certificate:
    """Parse a PEM certificate, refusing anything else with a clear error."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateUnreadable("The certificate is not a readable PEM certificate.") from exc


def _issuing_ca(certificate: x509.Certificate, trusted_ca_pems: list[bytes]) -> x509.Certificate:
    """Return the trusted CA whose key signed the certificate, or refuse it as untrusted."""
    for pem in trusted_ca_pems:
        ca = x509.load_pem_x509_certificate(pem)
        if ca.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return ca
    raise CertificateUntrusted(
        f"The certificate was not issued by a trusted certification authority "
        f"(issuer: {certificate.issuer.rfc4514_string()})."
    )


def _check_validity(certificate: x509.Certificate, now: datetime, what: str) -> None:
    """Refuse a certificate outside its validity period at `now`."""
    if now < certificate.not_valid_before_utc:
        raise CertificateNotYetValid(
            f"The {what} is valid only from {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC."
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateExpired(
            f"The {what} expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC."
        )


def _check_key_usage(certificate: x509.Certificate) -> None:
    """Refuse a certificate whose key usage excludes signing documents."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise CertificateNotForSigning("The certificate's key may not be used to sign documents.")


def certificate_iin(certificate: x509.Certificate) -> str | None:
    """Return the IIN in the certificate subject's serial number, or None when there is none."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER):
        match = _SUBJECT_IIN.match(str(attribute.value))
        if match:
            return match.group(1)
    return None


def _check_signature(certificate: x509.Certificate, signature: bytes, data: bytes) -> None:
    """Refuse a signature that this certificate's key did not make over these bytes."""
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise KeyUnsupported("Only RSA and elliptic-curve certificates are accepted.")
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "The signature does not match the document: the document was changed after it was "
            "signed, or it was signed with another key."
        ) from exc


def verify_eds(
    *,
    document: Mapping[str, Any],
    signature: bytes,
    certificate_pem: bytes,
    signer_iin: str,
    trusted_ca_pems: list[bytes],
    now: datetime,
) -> SignatureEvidence:
    """Verify a detached EDS signature of the document by the signer; return the evidence."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    certificate = _load_certificate(certificate_pem)
    ca = _issuing_ca(certificate, trusted_ca_pems)
    _check_validity(ca, now, "certification authority's certificate")
    _check_validity(certificate, now, "certificate")
    _check_key_usage(certificate)
    holder = certificate_iin(certificate)
    if holder != signer_iin:
        raise CertificateOfAnotherPerson(
            "The certificate belongs to another person "
            f"({'IIN ' + holder if holder else 'no IIN in it'}), not to the signer."
        )
    _check_signature(certificate, signature, canonical_bytes(document))
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SignatureEvidence(
        method=SigningMethod.EDS,
        signer_iin=signer_iin,
        document_sha256=document_sha256(document),
        signed_at=now,
        signature=base64.b64encode(signature).decode("ascii"),
        certificate_subject=certificate.subject.rfc4514_string(_NAMES),
        certificate_issuer=ca.subject.rfc4514_string(_NAMES),
        certificate_serial=format(certificate.serial_number, "x"),
        certificate_fingerprint=hashlib.sha256(der).hexdigest(),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
