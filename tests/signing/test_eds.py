"""EDS: a detached signature is accepted only from the signer's own, trusted, valid certificate."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from webapp.signing import (
    DemoCA,
    SigningMethod,
    document_sha256,
    issue_person_certificate,
    make_demo_ca,
    sign,
    sign_document,
    verify_eds,
)
from webapp.signing.errors import (
    CertificateExpired,
    CertificateNotForSigning,
    CertificateNotYetValid,
    CertificateOfAnotherPerson,
    CertificateUnreadable,
    CertificateUntrusted,
    KeyDoesNotMatchCertificate,
    SignatureInvalid,
)

APPLICANT = "850314304175"
DOCUMENT = {
    "application_number": "A-0100",
    "arc": "0201300123456789",
    "owners": [{"iin": "621102401239", "share": "1/1"}],
    "address": "Астана, ул. Кенесары, 40",
}


def now() -> datetime:
    return datetime.now(UTC)


def check(ca, person, *, document=DOCUMENT, signature=None, signer=APPLICANT, trusted=None):
    return verify_eds(
        document=document,
        signature=sign(DOCUMENT, person.private_key) if signature is None else signature,
        certificate_pem=person.certificate_pem(),
        signer_iin=signer,
        trusted_ca_pems=[ca.certificate_pem()] if trusted is None else trusted,
        now=now(),
    )


def test_valid_rsa_signature_is_accepted_with_certificate_evidence(ca, applicant):
    signature = sign(DOCUMENT, applicant.private_key)
    evidence = check(ca, applicant, signature=signature)
    assert evidence.method is SigningMethod.EDS
    assert evidence.signer_iin == APPLICANT
    assert evidence.document_sha256 == document_sha256(DOCUMENT)
    assert evidence.signature == base64.b64encode(signature).decode()
    assert "serialNumber=IIN850314304175" in evidence.certificate_subject
    assert evidence.certificate_serial == format(applicant.certificate.serial_number, "x")
    assert (
        evidence.certificate_fingerprint == applicant.certificate.fingerprint(hashes.SHA256()).hex()
    )
    assert evidence.certificate_pem.encode() == applicant.certificate_pem()
    assert json.loads(json.dumps(evidence.to_dict()))["method"] == "eds"


def test_valid_elliptic_curve_signature_is_accepted(ca):
    person = issue_person_certificate(ca, APPLICANT, "ABENOV ARMAN", key_type="ec")
    assert check(ca, person).certificate_subject == (
        "C=KZ,serialNumber=IIN850314304175,CN=ABENOV ARMAN"
    )


def test_tampered_document_is_refused(ca, applicant):
    tampered = {**DOCUMENT, "arc": "0201300999999999"}
    with pytest.raises(SignatureInvalid, match="changed after it was signed"):
        check(ca, applicant, document=tampered)


def test_signature_by_another_key_is_refused(ca, applicant, owner):
    with pytest.raises(SignatureInvalid):
        check(ca, applicant, signature=sign(DOCUMENT, owner.private_key))


def test_certificate_of_another_person_is_refused(ca, owner):
    with pytest.raises(CertificateOfAnotherPerson, match="IIN 621102401239"):
        check(ca, owner)


def test_expired_certificate_is_refused(ca):
    expired = issue_person_certificate(
        ca,
        APPLICANT,
        "ABENOV ARMAN",
        not_before=now() - timedelta(days=400),
        not_after=now() - timedelta(days=35),
    )
    with pytest.raises(CertificateExpired, match="expired on"):
        check(ca, expired)


def test_certificate_not_yet_valid_is_refused(ca):
    future = issue_person_certificate(
        ca, APPLICANT, "ABENOV ARMAN", not_before=now() + timedelta(days=1)
    )
    with pytest.raises(CertificateNotYetValid):
        check(ca, future)


def test_certificate_from_an_untrusted_ca_is_refused(ca):
    stranger_ca = make_demo_ca("Unknown CA")
    person = issue_person_certificate(stranger_ca, APPLICANT, "ABENOV ARMAN")
    with pytest.raises(CertificateUntrusted, match="Unknown CA"):
        check(ca, person)


def test_ca_impostor_with_the_trusted_name_is_refused(ca):
    impostor = make_demo_ca("Tirkeu demonstration CA")
    person = issue_person_certificate(impostor, APPLICANT, "ABENOV ARMAN")
    with pytest.raises(CertificateUntrusted):
        check(ca, person)


def test_certificate_is_accepted_from_any_of_several_trusted_cas(ca, applicant):
    other = make_demo_ca("Second CA", key_type="ec")
    assert check(ca, applicant, trusted=[other.certificate_pem(), ca.certificate_pem()])


def test_certificate_without_signing_key_usage_is_refused(ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "ABENOV ARMAN"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{APPLICANT}"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - timedelta(days=1))
        .not_valid_after(now() + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca.private_key, hashes.SHA256())
    )
    with pytest.raises(CertificateNotForSigning):
        verify_eds(
            document=DOCUMENT,
            signature=sign(DOCUMENT, key),
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
            signer_iin=APPLICANT,
            trusted_ca_pems=[ca.certificate_pem()],
            now=now(),
        )


def test_unreadable_certificate_is_refused(ca, applicant):
    with pytest.raises(CertificateUnreadable):
        verify_eds(
            document=DOCUMENT,
            signature=sign(DOCUMENT, applicant.private_key),
            certificate_pem=b"not a certificate",
            signer_iin=APPLICANT,
            trusted_ca_pems=[ca.certificate_pem()],
            now=now(),
        )


def test_signing_helper_signs_a_document_file_that_then_verifies(ca, applicant, tmp_path):
    key_path, cert_path = applicant.save(tmp_path / "keys")
    document_path = tmp_path / "application.json"
    document_path.write_text(json.dumps(DOCUMENT, ensure_ascii=False, indent=2), encoding="utf-8")
    signature = sign_document(document_path, key_path, cert_path)
    assert check(ca, applicant, signature=base64.b64decode(signature))
    assert key_path.stat().st_mode & 0o777 == 0o600


def test_signing_helper_refuses_a_key_that_is_not_the_certificates(applicant, owner, tmp_path):
    key_path, _ = owner.save(tmp_path)
    _, cert_path = applicant.save(tmp_path)
    document_path = tmp_path / "application.json"
    document_path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    with pytest.raises(KeyDoesNotMatchCertificate):
        sign_document(document_path, key_path, cert_path)


def test_saved_demo_ca_issues_certificates_the_original_trusts(ca, tmp_path):
    ca.save(tmp_path / "ca")
    reloaded = DemoCA.load(tmp_path / "ca")
    person = issue_person_certificate(reloaded, APPLICANT, "ABENOV ARMAN")
    assert check(ca, person).signer_iin == APPLICANT
