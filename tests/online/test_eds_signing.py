"""EDS as CMS through the portal and the API: the signed document is the shown one, and every
wrong signature is refused with the field named and nothing changed."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from webapp.accounts import issue_token
from webapp.db.models import Instance
from webapp.db.online import SignedDocument
from webapp.online.documents import DATA_SEPARATOR
from webapp.settings import Settings
from webapp.signing import DemoCA, issue_person_certificate, make_demo_ca, sign_cms

from .conftest import APPLICANT, COOWNED_ARC, GULNARA, KAIRAT

APPLICATION = {"registration_type": "permanent", "for_whom": "self", "ownership": "owner",
               "arc": COOWNED_ARC}  # fmt: skip


def review(client, language: str = "en") -> bytes:
    """Apply in a language and return the exact bytes the sign page offers to sign."""
    client.client.set_cookie("lang", language)
    assert client.post("/portal/apply", APPLICATION).status_code == 303
    return client.get("/portal/sign/document.txt").data


def cms_by(credentials, content: bytes, *, attached: bool = True) -> str:
    """Return a base64 CMS of the content by a person's credentials."""
    cms = sign_cms(content, credentials.certificate, credentials.private_key, attached=attached)
    return base64.b64encode(cms).decode()


def demo_person(instance, iin: str, **validity):
    """Return credentials for the IIN under the instance's trusted demo CA."""
    return issue_person_certificate(DemoCA.load(instance / "pki"), iin, "DEMO PERSON", **validity)


def instances(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Instance))


def visible_document(page: str) -> str:
    """Return the text of the page's document block as the browser shows it."""
    block = re.search(r'<pre class="signed-document"[^>]*id="(?:document|signed-text)"[^>]*>(.*?)'
                      r"</pre>", page, re.S)  # fmt: skip
    return block.group(1)


@pytest.mark.parametrize("language", ["en", "ru", "kk"])
def test_signed_document_is_the_shown_text_and_my_applications_shows_it_again(
    signed_in, instance, runtime, sessions, language
):
    applicant = signed_in("applicant")
    content = review(applicant, language)
    shown = visible_document(applicant.get("/portal/sign").get_data(as_text=True))
    text, data = content.decode().split(DATA_SEPARATOR)
    assert str(escape(text)) == shown
    assert json.loads(data)["answer"]["arc"] == COOWNED_ARC
    response = applicant.post(
        "/portal/sign/eds",
        {"cms": cms_by(demo_person(instance, APPLICANT), content), "language": language},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    instance_id = int(response.headers["Location"].rsplit("/", 1)[1])
    evidence = runtime.instance(instance_id).data["application_signature"]
    assert evidence["document"]["signed_text"] == text
    assert evidence["document"]["language"] == language
    assert evidence["document"]["sha256"] == evidence["document_sha256"]
    with sessions() as session:
        kept = session.scalar(
            select(SignedDocument).where(SignedDocument.instance_id == instance_id)
        )
        assert kept.document["signed_text"] == text and kept.document["language"] == language
    my_applications = applicant.get("/portal/").get_data(as_text=True)
    assert f"/portal/applications/{instance_id}#signed-document" in my_applications
    page = applicant.get(f"/portal/applications/{instance_id}").get_data(as_text=True)
    assert visible_document(page) == shown


def test_application_text_names_people_address_and_who_consents_in_russian(signed_in):
    applicant = signed_in("applicant")
    text = review(applicant, "ru").decode().split(DATA_SEPARATOR)[0]
    assert "Akhmetov Yerlan Serikovich" in text and "Kabanbay Batyr avenue 48" in text
    assert "621102401239" in text and "600520302564" in text
    assert "Permanent" not in text and "Applicant" not in text


def test_detached_cms_over_the_document_is_accepted(signed_in, instance):
    applicant = signed_in("applicant")
    content = review(applicant)
    cms = cms_by(demo_person(instance, APPLICANT), content, attached=False)
    response = applicant.post("/portal/sign/eds", {"cms": cms, "language": "en"})
    assert response.headers["Location"].startswith("/portal/applications/")


def wrong_signatures(instance, content: bytes) -> dict[str, tuple[str, str]]:
    """Return each wrong signature of the document with the message the signer must read."""
    now = datetime.now(UTC)
    stranger = issue_person_certificate(make_demo_ca("Stranger CA"), APPLICANT, "DEMO PERSON")
    expired = demo_person(
        instance, APPLICANT, not_before=now - timedelta(days=400), not_after=now - timedelta(days=2)
    )
    own = demo_person(instance, APPLICANT)
    return {
        "other document": (cms_by(own, content + b"!"), "over another document"),
        "other signer": (cms_by(demo_person(instance, KAIRAT), content), "another person"),
        "untrusted chain": (cms_by(stranger, content), "not issued by a certification"),
        "expired": (cms_by(expired, content), "has expired"),
        "garbage": (base64.b64encode(b"garbage").decode(), "cannot be read"),
        "not base64": ("%%%", "not base64"),
    }


def test_portal_refuses_each_wrong_signature_in_the_page_and_changes_nothing(
    signed_in, instance, sessions
):
    applicant = signed_in("applicant")
    content = review(applicant)
    before = instances(sessions)
    for name, (cms, message) in wrong_signatures(instance, content).items():
        response = applicant.post(
            "/portal/sign/eds", {"cms": cms, "language": "en"}, follow_redirects=True
        )
        page = response.get_data(as_text=True)
        assert message in page, name
        assert 'id="document"' in page, name  # still on the sign page, the document waiting
    assert instances(sessions) == before


def test_portal_refusal_is_in_the_signers_language(signed_in, instance):
    applicant = signed_in("applicant")
    content = review(applicant, "ru")
    cms = cms_by(demo_person(instance, KAIRAT), content)
    page = applicant.post(
        "/portal/sign/eds", {"cms": cms, "language": "ru"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "belongs to another person" not in page
    assert "Эта ЭЦП принадлежит другому лицу: подпишите своим ключом." in page


def test_api_refuses_each_wrong_signature_naming_the_field_and_changes_nothing(
    app, signed_in, instance, runtime, sessions
):
    data = {"channel": "online", "registration_type": "permanent", "applicant_iin": APPLICANT,
            "applicant_type": "self", "person_iin": APPLICANT, "arc": COOWNED_ARC,
            "arrived_from_abroad": False, "application_date": "2026-11-27"}  # fmt: skip
    content = runtime.start_signing("residence_registration", data, "en").rendered.content
    with sessions.begin() as session:
        token = issue_token(session, "clerk")
    client = app.test_client()
    before = instances(sessions)
    wrong = wrong_signatures(instance, content)
    wrong["wrong language"] = (cms_by(demo_person(instance, APPLICANT), content), "")
    for name, (cms, _message) in wrong.items():
        language = "de" if name == "wrong language" else "en"
        evidence = {"method": "eds", "cms": cms, "language": language}
        answer = client.post(
            "/api/v1/instances",
            json={"process_id": "residence_registration",
                  "data": {**data, "application_signature": evidence}},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert 400 <= answer.status_code < 500, name
        assert "application_signature" in answer.get_json()["errors"], name
    assert instances(sessions) == before
    good = {"method": "eds", "cms": cms_by(demo_person(instance, APPLICANT), content),
            "language": "en"}  # fmt: skip
    answer = client.post(
        "/api/v1/instances",
        json={"process_id": "residence_registration",
              "data": {**data, "application_signature": good}},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.get_json()
    assert instances(sessions) == before + 1


def test_owner_signs_a_consent_text_naming_the_applicant_and_the_answer(
    signed_in, instance, runtime
):
    applicant = signed_in("applicant")
    content = review(applicant)
    cms = cms_by(demo_person(instance, APPLICANT), content)
    location = applicant.post("/portal/sign/eds", {"cms": cms, "language": "en"}).headers[
        "Location"
    ]
    view = runtime.instance(int(location.rsplit("/", 1)[1]))
    task_id = next(t.id for t in view.ready_tasks if t.assignee == GULNARA)
    gulnara = signed_in("gulnara")
    gulnara.post(f"/portal/consents/{task_id}", {"answer": "approve"})
    text = gulnara.get("/portal/sign/document.txt").data.decode().split(DATA_SEPARATOR)[0]
    assert "Owner's answer to a consent request" in text
    assert "Applicant: Akhmetov Yerlan Serikovich, IIN 850314304175" in text
    assert text.endswith("I consent to this registration at premises I own.")


@pytest.mark.parametrize(
    "url", ["wss://127.0.0.1:13579/; script-src *", "https://127.0.0.1:13579/", "wss://a b/"]
)
def test_an_ncalayer_address_that_would_break_the_policy_header_is_refused(tmp_path, url):
    with pytest.raises(ValueError, match="TIRKEU_NCALAYER_URL"):
        Settings.from_env(instance_path=tmp_path, secret_key="s", ncalayer_url=url)


def test_only_the_sign_page_may_connect_to_ncalayer(signed_in):
    applicant = signed_in("applicant")
    review(applicant)
    sign_page = applicant.get("/portal/sign").headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://127.0.0.1:13579/;" in sign_page
    other = applicant.get("/portal/").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in other
