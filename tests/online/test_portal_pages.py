"""The online channel's pages over the real runtime: apply, sign, consent, refusals, visits."""

import json
import re
from datetime import datetime, time, timedelta

import pytest
from babel.dates import format_time
from markupsafe import escape
from sqlalchemy import select

from webapp.booking import available_slots, book, save_centres
from webapp.centres import centre_names
from webapp.db.base import utcnow
from webapp.db.models import HumanTask
from webapp.db.online import SignedDocument
from webapp.online.documents import DATA_SEPARATOR
from webapp.signing import sign_with_files
from webapp.web.i18n import local_today
from webapp.web.labels import refusal_label

from .conftest import APPLICANT, COOWNED_ARC, GULNARA, KAIRAT, latest_code

SOLE_ARC = "0201300012740054"


def apply(client, **fields) -> None:
    """Post an application form for oneself at the co-owned flat, with overrides."""
    form = {"registration_type": "permanent", "for_whom": "self", "ownership": "owner"}
    form.update({"arc": COOWNED_ARC, **fields})
    response = client.post("/portal/apply", form)
    assert response.status_code == 303, response.get_data(as_text=True)


def sign_with_code(client) -> str:
    """Request a code, read it from the outbox and sign; return the page signed into."""
    assert client.post("/portal/sign/code").status_code == 303
    code = latest_code(client.get("/portal/outbox").get_data(as_text=True))
    response = client.post("/portal/sign/verify", {"code": code})
    assert response.status_code == 303
    return response.headers["Location"]


def document_parts(client) -> tuple[str, dict]:
    """Return the text and the data of the document waiting on the sign page."""
    content = client.get("/portal/sign/document.txt").data.decode()
    text, data = content.split(DATA_SEPARATOR)
    return text, json.loads(data)


def eds_signature(client, instance, iin: str) -> str:
    """Return a CMS signature (base64) of the waiting document with the person's demo key."""
    pki = instance / "pki"
    content = client.get("/portal/sign/document.txt").data
    return sign_with_files(content, pki / f"{iin}.key.pem", pki / f"{iin}.cert.pem")


def consent_task(sessions, owner_iin: str) -> HumanTask:
    with sessions() as session:
        return session.scalar(select(HumanTask).where(HumanTask.assignee == owner_iin))


def answer(client, task_id: str, choice: str) -> None:
    """Answer a consent request and sign the answer with a code."""
    assert client.post(f"/portal/consents/{task_id}", {"answer": choice}).status_code == 303
    assert sign_with_code(client) == f"/portal/consents/{task_id}"


def test_every_portal_page_refuses_staff_and_strangers(signed_in, app):
    clerk = signed_in("clerk")
    for path in ("/portal/", "/portal/apply", "/portal/outbox", "/portal/consents", "/visits/"):
        assert clerk.get(path).status_code == 403
        assert app.test_client().get(path).status_code == 302
    assert signed_in("applicant").get("/visits/desk").status_code == 403


def test_review_page_shows_exactly_the_signed_document(signed_in):
    applicant = signed_in("applicant")
    apply(applicant, registration_type="temporary", period_months="6")
    page = applicant.get("/portal/sign").get_data(as_text=True)
    text, document = document_parts(applicant)
    assert document["answer"]["channel"] == "online" and document["answer"]["period_months"] == 6
    assert document["signer"] == APPLICANT
    assert str(escape(text)) in page
    assert "Akhmetov Yerlan Serikovich, IIN 850314304175" in text
    assert "Astana, Yesil district, Kabanbay Batyr avenue 48, block 2, flat 115" in text
    assert "Temporary (place of stay), for 6 months" in text
    assert "Applies: for themself" in text and "self" not in text.replace("themself", "")


def test_application_form_names_each_wrong_field(signed_in):
    applicant = signed_in("applicant")
    response = applicant.post(
        "/portal/apply",
        {"registration_type": "temporary", "for_whom": "child", "person_iin": "123",
         "ownership": "not_owner", "arc": "12", "owner_iin": "", "address_text": ""},
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("period_months", "person_iin", "arc", "owner_iin", "address_text"):
        assert f'id="error-{field}"' in page


def test_attorney_online_is_sent_to_a_centre_with_the_reason(signed_in):
    applicant = signed_in("applicant")
    response = applicant.post(
        "/portal/apply",
        {"registration_type": "permanent", "for_whom": "attorney", "person_iin": GULNARA,
         "ownership": "owner", "arc": COOWNED_ARC},
    )  # fmt: skip
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert 'id="centre-only"' in page and "/visits/" in page
    # A channel answer: the attorney is entitled, at a centre; not "representative not entitled".
    assert "An attorney is entitled to apply at a service centre" in page
    assert "not entitled" not in page


def test_the_application_form_tells_an_attorney_to_book_a_centre_before_filling_it(signed_in):
    page = signed_in("applicant").get("/portal/apply").get_data(as_text=True)
    note = page[page.index('id="attorney-at-centre"') :]
    assert "service centre" in note[:300] and "/visits/" in note[:400]


def test_applicant_signed_application_starts_with_evidence_and_two_consents(
    signed_in, runtime, sessions
):
    applicant = signed_in("applicant")
    apply(applicant)
    location = sign_with_code(applicant)
    instance_id = int(location.rsplit("/", 1)[1])
    data = runtime.instance(instance_id).data
    assert data["channel"] == "online"
    assert data["application_signature"]["method"] == "sms_code"
    assert data["application_signature"]["signer_iin"] == APPLICANT
    assert consent_task(sessions, GULNARA).role == "owner"
    assert consent_task(sessions, KAIRAT) is not None
    assert "A-" in applicant.get("/portal/").get_data(as_text=True)


def test_wrong_code_is_refused_with_attempts_left(signed_in):
    applicant = signed_in("applicant")
    apply(applicant)
    applicant.post("/portal/sign/code")
    response = applicant.post("/portal/sign/verify", {"code": "000000"}, follow_redirects=True)
    assert "attempt(s) left" in response.get_data(as_text=True)


def test_co_owners_consent_by_code_and_eds_and_the_registration_is_made(
    signed_in, runtime, sessions, instance
):
    applicant = signed_in("applicant")
    apply(applicant)
    instance_id = int(sign_with_code(applicant).rsplit("/", 1)[1])
    answer(signed_in("gulnara"), consent_task(sessions, GULNARA).id, "approve")
    kairat = signed_in("kairat")
    task_id = consent_task(sessions, KAIRAT).id
    kairat.post(f"/portal/consents/{task_id}", {"answer": "approve"})
    response = kairat.post(
        "/portal/sign/eds", {"cms": eds_signature(kairat, instance, KAIRAT), "language": "en"}
    )
    assert response.headers["Location"] == f"/portal/consents/{task_id}"
    data = runtime.instance(instance_id).data
    assert data["outcome"] == "registered"
    with sessions() as session:
        kept = session.scalar(select(SignedDocument).where(SignedDocument.task_id == task_id))
        assert kept.evidence["method"] == "eds" and kept.document["data"]["consent_given"] is True
        assert "I consent to this registration" in kept.document["signed_text"]
    page = applicant.get(f"/portal/applications/{instance_id}").get_data(as_text=True)
    assert "Registered" in page and page.count("Consented") == 2 and "EDS" in page


def test_eds_signature_of_another_person_is_refused(signed_in, sessions, instance):
    applicant = signed_in("applicant")
    apply(applicant)
    response = applicant.post(
        "/portal/sign/eds",
        {"cms": eds_signature(applicant, instance, KAIRAT), "language": "en"},
        follow_redirects=True,
    )
    assert "belongs to another person" in response.get_data(as_text=True)


def test_owner_refusal_reaches_the_applicant_with_reason_owner_refused(
    signed_in, runtime, sessions
):
    applicant = signed_in("applicant")
    apply(applicant)
    instance_id = int(sign_with_code(applicant).rsplit("/", 1)[1])
    answer(signed_in("gulnara"), consent_task(sessions, GULNARA).id, "refuse")
    assert runtime.instance(instance_id).data["refusal_reason"] == "owner_refused"
    page = applicant.get(f"/portal/applications/{instance_id}").get_data(as_text=True)
    assert 'id="result"' in page and "Refused" in page
    assert "The application is refused." in page  # the process's notice to the applicant
    kairat_page = signed_in("kairat").get(f"/portal/consents/{consent_task(sessions, KAIRAT).id}")
    assert 'id="closed"' in kairat_page.get_data(as_text=True)


def test_consent_window_cancels_and_the_owner_page_shows_it_closed(signed_in, runtime, sessions):
    applicant = signed_in("applicant")
    apply(applicant)
    instance_id = int(sign_with_code(applicant).rsplit("/", 1)[1])
    runtime.run_due_jobs(now=utcnow() + timedelta(hours=2))
    assert runtime.instance(instance_id).data["refusal_reason"] == "consent_timeout"
    gulnara = signed_in("gulnara")
    task_id = consent_task(sessions, GULNARA).id
    assert 'id="closed"' in gulnara.get(f"/portal/consents/{task_id}").get_data(as_text=True)
    assert gulnara.post(f"/portal/consents/{task_id}", {"answer": "approve"}).status_code == 303
    page = applicant.get(f"/portal/applications/{instance_id}").get_data(as_text=True)
    assert "Cancelled" in page and "Closed without an answer" in page


def test_owner_cannot_open_another_owners_request(signed_in, sessions):
    applicant = signed_in("applicant")
    apply(applicant)
    sign_with_code(applicant)
    task_id = consent_task(sessions, GULNARA).id
    assert signed_in("kairat").get(f"/portal/consents/{task_id}").status_code == 404
    page = signed_in("gulnara").get(f"/portal/consents/{task_id}").get_data(as_text=True)
    assert "Akhmetov Yerlan" in page and "Kabanbay Batyr avenue 48" in page
    assert applicant.get("/portal/applications/999").status_code == 404


def test_sole_owner_application_needs_no_consent(signed_in, runtime):
    applicant = signed_in("applicant")
    apply(applicant, arc=SOLE_ARC)
    instance_id = int(sign_with_code(applicant).rsplit("/", 1)[1])
    assert runtime.instance(instance_id).data["outcome"] == "registered"


def test_visit_booking_cancel_and_rebook_and_the_desk_list(signed_in, app):
    applicant = signed_in("applicant")
    page = applicant.get("/visits/?centre=AST-YESIL").get_data(as_text=True)
    assert "AST-YESIL" in page and 'id="slots"' in page
    with app.app_context(), app.extensions["tirkeu_sessions"]() as session:
        for offset in range(8):
            day = local_today() + timedelta(days=offset)
            slots = available_slots(session, "AST-YESIL", day, now=utcnow())
            if len(slots) >= 2:
                break
    first, second = (s.start.replace(tzinfo=None).isoformat() for s in slots[:2])
    booked = applicant.post("/visits/book", {"centre": "AST-YESIL", "start": first})
    assert booked.status_code == 303
    again = applicant.post(
        "/visits/book", {"centre": "AST-YESIL", "start": second}, follow_redirects=True
    )
    assert "One booking is allowed per 10 days" in again.get_data(as_text=True)
    page = applicant.get("/visits/").get_data(as_text=True)
    booking_id = re.search(r"/visits/(\d+)/cancel", page).group(1)
    assert applicant.post(f"/visits/{booking_id}/cancel").status_code == 303
    rebooked = applicant.post(
        "/visits/book", {"centre": "AST-YESIL", "start": second}, follow_redirects=True
    )
    assert "Your visit is booked" in rebooked.get_data(as_text=True)


def test_desk_lists_todays_bookings_with_a_prefilled_counter_link(signed_in, app):
    every_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    with app.app_context(), app.extensions["tirkeu_sessions"]() as session:
        save_centres(
            session,
            [{"id": "NIGHT", "name": "Night desk", "desks": 1,
              "opening_hours": {day: ["00:00-24:00"] for day in every_day}}],
        )  # fmt: skip
        late = datetime.combine(local_today(), time(23, 45))
        book(session, APPLICANT, "NIGHT", late, utcnow() - timedelta(days=1))
    clerk = signed_in("clerk")
    page = clerk.get("/visits/desk?centre=NIGHT").get_data(as_text=True)
    assert APPLICANT in page and f"applicant_iin={APPLICANT}" in page
    counter = clerk.get(f"/tasks/counter?applicant_iin={APPLICANT}&applicant_type=self")
    assert f'value="{APPLICANT}"' in counter.get_data(as_text=True)


def free_slot(app, centre_id: str) -> str:
    """Return the start of the first slot bookable at the centre, as the slot buttons give it."""
    with app.app_context(), app.extensions["tirkeu_sessions"]() as session:
        for offset in range(8):
            slots = available_slots(
                session, centre_id, local_today() + timedelta(days=offset), now=utcnow()
            )
            if slots:
                return slots[0].start.replace(tzinfo=None).isoformat()
    raise AssertionError(f"no free slot at {centre_id} this week")


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_visit_pages_name_each_centre_in_the_readers_language(signed_in, app, language):
    names = centre_names(language)
    with app.app_context(), app.extensions["tirkeu_sessions"]() as session:
        # A centre that centres.json does not know keeps its stored name.
        save_centres(
            session, [{"id": "NIGHT", "name": "Night desk", "desks": 1, "opening_hours": {}}]
        )
    applicant = signed_in("applicant")
    applicant.client.set_cookie("lang", language)
    page = applicant.get("/visits/?centre=AST-YESIL").get_data(as_text=True)
    options = re.search(r'<select id="centre".*?</select>', page, re.S).group(0)
    assert names["AST-YESIL"] in options and names["ALM-BOSTANDYK"] in options
    assert "Night desk" in options and "Yesil district" not in page
    start = free_slot(app, "AST-YESIL")
    booked = applicant.post(
        "/visits/book", {"centre": "AST-YESIL", "start": start}, follow_redirects=True
    )
    page = booked.get_data(as_text=True)
    flashed = re.search(r'class="flash[^"]*success[^"]*"[^>]*>(.*?)<', page, re.S).group(1)
    own = re.search(r'id="my-bookings".*?</section>', page, re.S).group(0)
    assert names["AST-YESIL"] in flashed and names["AST-YESIL"] in own
    clerk = signed_in("clerk")
    clerk.client.set_cookie("lang", language)
    desk = clerk.get("/visits/desk?centre=ALM-BOSTANDYK").get_data(as_text=True)
    assert names["ALM-BOSTANDYK"] in desk and names["AST-YESIL"] in desk
    assert "Night desk" in desk and "district service centre" not in desk


# Words of each refusal that only its own language has: not a slot, a passed time, a second
# booking within the 10 days, no such centre, too far ahead, no such booking.
VISIT_REFUSALS = {
    "en": ("is not a visiting time", "That time has already passed", "One booking is allowed per",
           "There is no service centre NOWHERE", "booked at most 14 days ahead",
           "There is no such booking"),
    "kk": ("қабылдау уақыты емес", "Бұл уақыт өтіп кетті", "10 күнде бір рет қана жазылуға",
           "«NOWHERE» ХҚКО табылмады", "ең көбі 14 күн бұрын", "Мұндай жазылу жоқ"),
    "ru": ("не время приёма", "Это время уже прошло", "Допускается одна запись в 10 дн.",
           "ЦОН «NOWHERE» не найден", "не более чем на 14 дн. вперёд", "Такой записи нет"),
}  # fmt: skip


@pytest.mark.parametrize("language", ["en", "kk", "ru"])
def test_refused_bookings_say_why_in_the_readers_language(signed_in, app, language):
    off_grid, passed, second, no_centre, too_far, no_booking = VISIT_REFUSALS[language]
    name = centre_names(language)["AST-YESIL"]
    applicant = signed_in("applicant")
    applicant.client.set_cookie("lang", language)

    def refusal(start: datetime, centre: str = "AST-YESIL", path: str = "/visits/book") -> str:
        answer = applicant.post(
            path, {"centre": centre, "start": start.isoformat()}, follow_redirects=True
        )
        page = answer.get_data(as_text=True)
        return re.search(r'class="flash flash-error"[^>]*>(.*?)<', page, re.S).group(1)

    start = datetime.fromisoformat(free_slot(app, "AST-YESIL"))
    assert no_centre in refusal(start, "NOWHERE")
    # 52 weeks on: the same weekday and hour, past the 14 days that may be booked ahead.
    assert too_far in refusal(start + timedelta(weeks=52))
    assert no_booking in refusal(start, path="/visits/999999/cancel")
    wrong = refusal(start + timedelta(minutes=5))
    assert off_grid in wrong and name in wrong
    assert format_time(start + timedelta(minutes=5), "short", locale=language) in wrong
    assert passed in refusal(start - timedelta(days=7))
    booked = applicant.post("/visits/book", {"centre": "AST-YESIL", "start": start.isoformat()})
    assert booked.status_code == 303
    again = refusal(start)
    assert second in again and name in again
    # Its times are written as the pages write them, not in ISO 8601.
    assert str(start.year) in again and start.date().isoformat() not in again


def test_outbox_shows_codes_and_the_process_consent_sms_to_an_owner(signed_in):
    applicant = signed_in("applicant")
    apply(applicant)
    sign_with_code(applicant)
    page = signed_in("gulnara").get("/portal/outbox").get_data(as_text=True)
    assert 'id="service-sms"' in page and "You are asked to consent" in page
    assert "is your code" not in page


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"arc": "0203800000700000"}, "no_title"),
        ({"for_whom": "child", "person_iin": "150203600191"}, "under_14"),
        ({"registration_type": "temporary", "period_months": "24"}, "data_unreliable"),
    ],
)
def test_process_refusals_reach_the_applicant_with_their_reason(signed_in, runtime, fields, reason):
    applicant = signed_in("applicant")
    apply(applicant, **fields)
    instance_id = int(sign_with_code(applicant).rsplit("/", 1)[1])
    data = runtime.instance(instance_id).data
    assert (data["outcome"], data["refusal_reason"]) == ("refused", reason)
    page = applicant.get(f"/portal/applications/{instance_id}").get_data(as_text=True)
    result = page[page.index('id="result"') : page.index('id="history"')]
    assert escape(refusal_label(reason)) in result and escape(data["refusal_text"]) in result
    assert "The application is refused." in page


def test_not_the_owner_puts_the_declared_owner_and_address_in_the_document(signed_in):
    applicant = signed_in("applicant")
    apply(applicant, ownership="not_owner", owner_iin=GULNARA, address_text="Kabanbay Batyr 48")
    text, document = document_parts(applicant)
    assert "Address as the applicant gives it: Kabanbay Batyr 48" in text
    assert document["answer"]["declared_owner_iin"] == GULNARA
    assert document["answer"]["declared_address"] == "Kabanbay Batyr 48"


def test_signing_with_nothing_to_sign_sends_to_the_form_with_a_message(signed_in):
    applicant = signed_in("applicant")
    for answer in (applicant.get("/portal/sign"), applicant.post("/portal/sign/code")):
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith("/portal/apply")
    page = applicant.get("/portal/apply").get_data(as_text=True)
    assert "Nothing is waiting for your signature" in page


def test_status_history_shows_the_co_owners_requests_as_one_entry(signed_in):
    applicant = signed_in("applicant")
    apply(applicant)
    page = applicant.get(sign_with_code(applicant)).get_data(as_text=True)
    history = page[page.index('id="history"') : page.index('id="notices"')]
    assert history.count("Waiting: Give consent") == 1
    assert "×2" in history
