"""EDS: a CMS signature counts only over exactly the document, by the signer's own certificate,
chained to a trusted CA and valid now."""

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from webapp.signing import (
    DemoCA,
    SigningMethod,
    issue_person_certificate,
    make_demo_ca,
    sign_cms,
    sign_with_files,
    verify_cms,
)
from webapp.signing.errors import (
    CertificateExpired,
    CertificateNotForSigning,
    CertificateNotYetValid,
    CertificateOfAnotherPerson,
    CertificateUntrusted,
    DocumentMismatch,
    KeyDoesNotMatchCertificate,
    SignatureInvalid,
)

APPLICANT = "850314304175"
DOCUMENT = "Өтініш A-0100\nМекенжай: Астана, Кенесары к., 40\n".encode()


def now() -> datetime:
    return datetime.now(UTC)


def check(ca, person, *, content=DOCUMENT, cms=None, signer=APPLICANT, trusted=None):
    signed = sign_cms(DOCUMENT, person.certificate, person.private_key) if cms is None else cms
    return verify_cms(
        content=content,
        cms=signed,
        signer_iin=signer,
        trusted_ca_pems=[ca.certificate_pem()] if trusted is None else trusted,
        now=now(),
    )


def test_valid_rsa_cms_is_accepted_with_certificate_evidence(ca, applicant):
    cms = sign_cms(DOCUMENT, applicant.certificate, applicant.private_key)
    evidence = check(ca, applicant, cms=cms)
    assert evidence.method is SigningMethod.EDS
    assert evidence.signer_iin == APPLICANT
    assert evidence.document_sha256 == hashlib.sha256(DOCUMENT).hexdigest()
    assert evidence.cms == base64.b64encode(cms).decode()
    assert "serialNumber=IIN850314304175" in evidence.certificate_subject
    assert evidence.certificate_serial == format(applicant.certificate.serial_number, "x")
    assert (
        evidence.certificate_fingerprint == applicant.certificate.fingerprint(hashes.SHA256()).hex()
    )
    assert evidence.certificate_pem.encode() == applicant.certificate_pem()
    assert json.loads(json.dumps(evidence.to_dict()))["method"] == "eds"


def test_valid_elliptic_curve_cms_is_accepted(ca):
    person = issue_person_certificate(ca, APPLICANT, "ABENOV ARMAN", key_type="ec")
    assert check(ca, person).certificate_subject == (
        "C=KZ,serialNumber=IIN850314304175,CN=ABENOV ARMAN"
    )


def test_detached_cms_is_accepted_over_the_document(ca, applicant):
    cms = sign_cms(DOCUMENT, applicant.certificate, applicant.private_key, attached=False)
    assert asn1_cms.ContentInfo.load(cms)["content"]["encap_content_info"]["content"].native is None
    assert check(ca, applicant, cms=cms).signer_iin == APPLICANT


def test_attached_cms_of_another_document_is_refused(ca, applicant):
    with pytest.raises(DocumentMismatch, match="another document"):
        check(ca, applicant, content=DOCUMENT + b" ")


def test_detached_cms_of_another_document_is_refused(ca, applicant):
    cms = sign_cms(b"another text", applicant.certificate, applicant.private_key, attached=False)
    with pytest.raises(DocumentMismatch):
        check(ca, applicant, cms=cms)


def test_cms_whose_signature_was_altered_is_refused(ca, applicant):
    info = asn1_cms.ContentInfo.load(
        sign_cms(DOCUMENT, applicant.certificate, applicant.private_key)
    )
    signer = info["content"]["signer_infos"][0]
    forged = bytearray(signer["signature"].native)
    forged[10] ^= 0xFF
    signer["signature"] = bytes(forged)
    with pytest.raises(SignatureInvalid, match="does not match"):
        check(ca, applicant, cms=info.dump(force=True))


@pytest.mark.parametrize("garbage", [b"", b"not a cms", b"0\x03\x02\x01\x00"])
def test_garbage_is_refused_as_unreadable(ca, applicant, garbage):
    with pytest.raises(SignatureInvalid, match="not a readable CMS|CMS SignedData"):
        check(ca, applicant, cms=garbage)


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


def intermediate_of(root: DemoCA, name: str) -> DemoCA:
    """Return a CA whose certificate the root issued, as a national CA's issuing CA is."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - timedelta(days=1))
        .not_valid_after(now() + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.private_key, hashes.SHA256())
    )
    return DemoCA(certificate=certificate, private_key=key)


def test_chain_through_an_issuing_ca_the_cms_carries_reaches_the_trusted_root(ca):
    issuing = intermediate_of(ca, "Issuing CA")
    person = issue_person_certificate(issuing, APPLICANT, "ABENOV ARMAN", key_type="ec")
    info = asn1_cms.ContentInfo.load(sign_cms(DOCUMENT, person.certificate, person.private_key))
    carried = asn1_cms.CertificateChoices(
        name="certificate",
        value=asn1_cms.Certificate.load(
            issuing.certificate.public_bytes(serialization.Encoding.DER)
        ),
    )
    info["content"]["certificates"].append(carried)
    with_chain = info.dump(force=True)
    assert check(ca, person, cms=with_chain).certificate_issuer.startswith(
        "CN=Tirkeu demonstration CA"
    )
    with pytest.raises(CertificateUntrusted):
        check(ca, person)


def test_certificate_without_signing_key_usage_is_refused(ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "ABENOV ARMAN"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{APPLICANT}"),
        ]
    )
    usage = dict.fromkeys(
        ("digital_signature", "content_commitment", "data_encipherment", "key_agreement",
         "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - timedelta(days=1))
        .not_valid_after(now() + timedelta(days=30))
        .add_extension(x509.KeyUsage(key_encipherment=True, **usage), critical=True)
        .sign(ca.private_key, hashes.SHA256())
    )
    with pytest.raises(CertificateNotForSigning):
        check(ca, None, cms=sign_cms(DOCUMENT, certificate, key))


def test_signing_helper_signs_the_exact_bytes_that_then_verify(ca, applicant, tmp_path):
    key_path, cert_path = applicant.save(tmp_path / "keys")
    cms = base64.b64decode(sign_with_files(DOCUMENT, key_path, cert_path))
    assert check(ca, applicant, cms=cms)
    assert key_path.stat().st_mode & 0o777 == 0o600


def test_signing_helper_refuses_a_key_that_is_not_the_certificates(applicant, owner, tmp_path):
    key_path, _ = owner.save(tmp_path)
    _, cert_path = applicant.save(tmp_path)
    with pytest.raises(KeyDoesNotMatchCertificate):
        sign_with_files(DOCUMENT, key_path, cert_path)


def test_saved_demo_ca_issues_certificates_the_original_trusts(ca, tmp_path):
    ca.save(tmp_path / "ca")
    reloaded = DemoCA.load(tmp_path / "ca")
    person = issue_person_certificate(reloaded, APPLICANT, "ABENOV ARMAN")
    assert check(ca, person).signer_iin == APPLICANT
