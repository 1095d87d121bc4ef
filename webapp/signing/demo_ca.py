"""A demonstration certification authority issuing signing certificates for demos and tests."""

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from webapp.signing.eds import sign_cms

KeyType = Literal["rsa", "ec"]


def _key_pem(key: Any) -> bytes:
    """Return a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _save_pair(
    directory: str | Path, stem: str, key: Any, certificate: x509.Certificate
) -> tuple[Path, Path]:
    """Write `<stem>.key.pem` (owner-readable only) and `<stem>.cert.pem`; return both paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = folder / f"{stem}.key.pem", folder / f"{stem}.cert.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(_key_pem(key))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@dataclass(frozen=True)
class DemoCA:
    """A CA certificate and the key that issues certificates under it."""

    certificate: x509.Certificate
    private_key: Any

    def certificate_pem(self) -> bytes:
        """Return the CA certificate as PEM, to configure it as trusted."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write `ca.key.pem` and `ca.cert.pem` so that later runs issue under the same CA."""
        return _save_pair(directory, "ca", self.private_key, self.certificate)

    @classmethod
    def load(cls, directory: str | Path) -> "DemoCA":
        """Read a CA written by `save`."""
        folder = Path(directory)
        return cls(
            certificate=x509.load_pem_x509_certificate((folder / "ca.cert.pem").read_bytes()),
            private_key=serialization.load_pem_private_key(
                (folder / "ca.key.pem").read_bytes(), None
            ),
        )


@dataclass(frozen=True)
class PersonCredentials:
    """A person's signing certificate and private key."""

    iin: str
    certificate: x509.Certificate
    private_key: Any

    def certificate_pem(self) -> bytes:
        """Return the certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        """Return the private key as unencrypted PKCS#8 PEM."""
        return _key_pem(self.private_key)

    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write `<iin>.key.pem` (owner-readable only) and `<iin>.cert.pem`; return both paths."""
        return _save_pair(directory, self.iin, self.private_key, self.certificate)


def _new_key(key_type: KeyType) -> Any:
    """Generate a fresh RSA-2048 or P-256 key."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_demo_ca(
    name: str = "Tirkeu demonstration CA",
    *,
    key_type: KeyType = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> DemoCA:
    """Create a self-signed CA, valid ten years from now unless told otherwise."""
    key = _new_key(key_type)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return DemoCA(certificate=certificate, private_key=key)


def issue_person_certificate(
    ca: DemoCA,
    iin: str,
    name: str,
    *,
    key_type: KeyType = "rsa",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> PersonCredentials:
    """Issue a signing certificate for the person with this IIN, valid a year unless told.

    Like the national authority's, its subject holds the name and `serialNumber=IIN<12 digits>`
    and its key usage allows signing. Never trust a demonstration CA in production.
    """
    if len(iin) != 12 or not iin.isdigit():
        raise ValueError(f"an IIN is 12 digits, not {iin!r}")
    key = _new_key(key_type)
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ"),
        ]
    )
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca.private_key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    return PersonCredentials(iin=iin, certificate=certificate, private_key=key)


class DemoSigner:
    """Signs documents as anyone, under a demonstration CA: process tests and demos sign with it.

    A certificate (an elliptic-curve key, quick to make) is issued to each IIN on first use.
    """

    def __init__(self, ca: DemoCA | None = None, not_before: datetime | None = None) -> None:
        self.ca = ca or make_demo_ca("Tirkeu test CA", key_type="ec")
        # Certificates valid from this moment (a day ago unless told): a history played on a
        # simulated clock signs in the past.
        self.not_before = not_before
        self._people: dict[str, PersonCredentials] = {}

    def credentials(self, iin: str) -> PersonCredentials:
        """Return the person's credentials, issuing them on first use."""
        if iin not in self._people:
            name = f"Person {iin}"
            self._people[iin] = issue_person_certificate(
                self.ca, iin, name, key_type="ec", not_before=self.not_before
            )
        return self._people[iin]

    def evidence(self, rendered: Any, iin: str) -> dict[str, Any]:
        """Return the EDS evidence of the person signing the rendered document (the runtime's
        `Rendered`), as a caller submits it: the CMS and the document's language."""
        person = self.credentials(iin)
        cms = sign_cms(rendered.content, person.certificate, person.private_key)
        return {
            "method": "eds",
            "language": rendered.language,
            "cms": base64.b64encode(cms).decode("ascii"),
        }

    def signed(self, data: Mapping[str, Any], signing: Any) -> dict[str, Any]:
        """Return the data of an act with the signer's evidence in its field (as a form sends
        it, JSON text), when the runtime's `signing` of the act asks for a signature."""
        if signing is None:
            return dict(data)
        evidence = self.evidence(signing.rendered, signing.signer)
        return {**data, signing.field: json.dumps(evidence)}
