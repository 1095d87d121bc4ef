"""EDS: sign a document's bytes as CMS (PKCS#7 SignedData, as NCALayer makes it), and verify
such a signature against the document, the signer's IIN and the trusted certification
authorities.

The CMS is parsed with asn1crypto and every signature (the signer's, and each certificate's in
the chain) is checked with `cryptography`. NCALayer's `createCAdESFromBase64` gives CAdES-BES:
a SignedData whose signer signs attributes holding the digest of the content, with the content
attached or detached; both are accepted, and the content must be exactly the document.
"""

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from webapp.signing.errors import (
    CertificateExpired,
    CertificateNotForSigning,
    CertificateNotYetValid,
    CertificateOfAnotherPerson,
    CertificateUnreadable,
    CertificateUntrusted,
    DocumentMismatch,
    KeyDoesNotMatchCertificate,
    KeyUnsupported,
    SignatureInvalid,
)
from webapp.signing.evidence import SignatureEvidence, SigningMethod

# The national certification authority writes the holder's IIN into the subject serial number.
_SUBJECT_IIN = "IIN"
_NAMES = {NameOID.SERIAL_NUMBER: "serialNumber"}
_DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
# Intermediate authorities between a signer and a trusted one, at most.
_MAX_CHAIN = 4


def sign_cms(content: bytes, certificate: x509.Certificate, private_key: Any, *,
             attached: bool = True) -> bytes:  # fmt: skip
    """Return a CMS SignedData (DER) of the content by the key, with its certificate in it."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyUnsupported("Only RSA and elliptic-curve keys can sign.")
    if _public_der(private_key.public_key()) != _public_der(certificate.public_key()):
        raise KeyDoesNotMatchCertificate("The key does not belong to the certificate.")
    options = [pkcs7.PKCS7Options.Binary]
    if not attached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    builder = builder.add_signer(certificate, private_key, hashes.SHA256())
    return builder.sign(serialization.Encoding.DER, options)


def sign_with_files(content: bytes, key_path: str | Path, cert_path: str | Path,
                    password: bytes | None = None) -> str:  # fmt: skip
    """Sign bytes with a PEM key file and its certificate file; return the CMS in base64."""
    private_key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password)
    certificate = _load_certificate(Path(cert_path).read_bytes())
    return base64.b64encode(sign_cms(content, certificate, private_key)).decode("ascii")


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


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Tell whether the issuer's key signed the certificate."""
    if issuer.subject != certificate.issuer:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    """Tell whether a certificate may issue others."""
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _chain(certificate: x509.Certificate, carried: list[x509.Certificate],
           trusted_ca_pems: list[bytes], now: datetime) -> x509.Certificate:  # fmt: skip
    """Return the trusted CA the certificate chains to, through CAs the CMS carries.

    Each link is checked: the issuer's key signed it, the issuer is a CA and is valid now.
    """
    trusted = [x509.load_pem_x509_certificate(pem) for pem in trusted_ca_pems]
    current = certificate
    for _ in range(_MAX_CHAIN + 1):
        for ca in trusted:
            if _issued_by(current, ca):
                _check_validity(ca, now, "certification authority's certificate")
                return ca
        step = next((c for c in carried if _is_ca(c) and _issued_by(current, c)), None)
        if step is None:
            break
        _check_validity(step, now, "certification authority's certificate")
        current = step
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
        value = str(attribute.value)
        digits = value[len(_SUBJECT_IIN) :]
        if value.startswith(_SUBJECT_IIN) and len(digits) == 12 and digits.isdigit():
            return digits
    return None


def _signed_data(cms: bytes) -> asn1_cms.SignedData:
    """Parse a CMS SignedData with one signer, refusing anything else."""
    try:
        info = asn1_cms.ContentInfo.load(cms, strict=True)
        if info["content_type"].native != "signed_data":
            raise SignatureInvalid("The signature is not a CMS SignedData.")
        signed = info["content"]
        signers = len(signed["signer_infos"])
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureInvalid("The signature is not a readable CMS (PKCS#7) signature.") from exc
    if signers != 1:
        raise SignatureInvalid("The CMS must hold exactly one signature.")
    return signed


def _certificates(signed: asn1_cms.SignedData) -> list[x509.Certificate]:
    """Return the X.509 certificates the CMS carries."""
    found = []
    for choice in signed["certificates"] or []:
        if choice.name == "certificate":
            try:
                found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
            except ValueError as exc:
                raise CertificateUnreadable("A certificate in the CMS is not readable.") from exc
    return found


def _signer_certificate(signer: asn1_cms.SignerInfo,
                        carried: list[x509.Certificate]) -> x509.Certificate:  # fmt: skip
    """Return the carried certificate the signer info names, by issuer and serial or key id."""
    sid = signer["sid"]
    for certificate in carried:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            same_issuer = certificate.issuer.public_bytes() == wanted["issuer"].dump()
            if same_issuer and certificate.serial_number == wanted["serial_number"].native:
                return certificate
        else:
            try:
                key_id = certificate.extensions.get_extension_for_class(
                    x509.SubjectKeyIdentifier
                ).value.digest
            except x509.ExtensionNotFound:
                continue
            if key_id == sid.chosen.native:
                return certificate
    raise CertificateUnreadable("The CMS does not carry the signer's certificate.")


def _signed_bytes(signer: asn1_cms.SignerInfo, content: bytes, digest: hashes.HashAlgorithm
                  ) -> bytes:  # fmt: skip
    """Return what the signer's signature covers, checking the content digest it signs."""
    attributes = signer["signed_attrs"]
    if not attributes:
        return content
    values = {a["type"].native: a["values"] for a in attributes}
    if "message_digest" not in values or len(values["message_digest"]) != 1:
        raise SignatureInvalid("The CMS signs no digest of the document.")
    hasher = hashes.Hash(digest)
    hasher.update(content)
    if values["message_digest"][0].native != hasher.finalize():
        raise DocumentMismatch(
            "The signature is over another document: the document changed after it was "
            "signed, or another document was signed."
        )
    # The attributes are signed as a DER SET, not under the [0] tag they carry in the CMS.
    return attributes.untag().dump()


def _check_signature(certificate: x509.Certificate, signer: asn1_cms.SignerInfo,
                     data: bytes, digest: hashes.HashAlgorithm) -> None:  # fmt: skip
    """Refuse a signature that this certificate's key did not make over these bytes."""
    key = certificate.public_key()
    signature = signer["signature"].native
    algorithm = signer["signature_algorithm"].signature_algo
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm == "rsassa_pkcs1v15":
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm == "ecdsa":
            key.verify(signature, data, ec.ECDSA(digest))
        else:
            raise KeyUnsupported(
                "Only RSA (PKCS#1 v1.5) and elliptic-curve signatures are accepted "
                f"(this one is {algorithm})."
            )
    except InvalidSignature as exc:
        raise SignatureInvalid(
            "The signature does not match the document: it was changed after it was signed, "
            "or it was signed with another key."
        ) from exc


def _digest(signer: asn1_cms.SignerInfo) -> hashes.HashAlgorithm:
    """Return the digest algorithm the signer used, refusing weak or unknown ones."""
    name = signer["digest_algorithm"]["algorithm"].native
    if name not in _DIGESTS:
        raise KeyUnsupported(f"The digest algorithm {name} is not accepted.")
    return _DIGESTS[name]()


def verify_cms(*, content: bytes, cms: bytes, signer_iin: str, trusted_ca_pems: list[bytes],
               now: datetime) -> SignatureEvidence:  # fmt: skip
    """Verify a CMS signature of exactly `content` by the signer; return the evidence.

    Checked: the CMS signs this content (attached or detached), the signature is the signer
    certificate's, the certificate chains to a trusted CA, it and its CAs are valid at `now`,
    its key may sign, and its subject's serial number holds the signer's IIN.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    signed = _signed_data(cms)
    attached = signed["encap_content_info"]["content"].native
    if attached is not None and attached != content:
        raise DocumentMismatch(
            "The signature carries another document than the one shown: review it and sign again."
        )
    carried = _certificates(signed)
    signer = signed["signer_infos"][0]
    certificate = _signer_certificate(signer, carried)
    ca = _chain(certificate, carried, trusted_ca_pems, now)
    _check_validity(certificate, now, "certificate")
    _check_key_usage(certificate)
    holder = certificate_iin(certificate)
    if holder != signer_iin:
        raise CertificateOfAnotherPerson(
            "The certificate belongs to another person "
            f"({'IIN ' + holder if holder else 'no IIN in it'}), not to the signer."
        )
    digest = _digest(signer)
    _check_signature(certificate, signer, _signed_bytes(signer, content, digest), digest)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SignatureEvidence(
        method=SigningMethod.EDS,
        signer_iin=signer_iin,
        document_sha256=hashlib.sha256(content).hexdigest(),
        signed_at=now,
        cms=base64.b64encode(cms).decode("ascii"),
        certificate_subject=certificate.subject.rfc4514_string(_NAMES),
        certificate_issuer=ca.subject.rfc4514_string(_NAMES),
        certificate_serial=format(certificate.serial_number, "x"),
        certificate_fingerprint=hashlib.sha256(der).hexdigest(),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
