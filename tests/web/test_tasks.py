"""The desk: task lists, the task page, claiming, completing, refusing, the queue, the counter."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.conftest import APPLICANT_IIN, FIXTURES, csrf_token, sign_in
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance

DESK_REFUSED = ("process_owner", "analyst", "administrator", "applicant")
CASE = {
    "channel": "service_centre",
    "applicant_iin": APPLICANT_IIN,
    "person_iin": APPLICANT_IIN,
    "required_documents": "Identity card, Owner's written consent",
    "person": {
        "iin": APPLICANT_IIN,
        "surname": "Abenov",
        "given_name": "Arman",
        "birth_date": "1985-03-14",
        "alive": True,
        "documents": [{"kind": "id_card", "number": "045612378", "valid_until": "2031-05-20"}],
    },
    "premises": {"arc": "0201300098765432", "kind": "flat", "registered_count": 2},
    "title": {"title": True, "state_rental": False, "owners": [{"iin": "621102401239"}]},
    "consular": {"deregistered": True, "country": "DE", "date": "2025-01-10"},
}


@pytest.fixture
def task_id(fake_runtime):
    return fake_runtime.add_task(CASE)


def task_row(sessions, task_id):
    with sessions.begin() as session:
        return session.get(HumanTask, task_id)


def claim(client, task_id, token):
    return client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})


PAGES = ["/tasks/", "/tasks/{task}", "/tasks/counter"]
ACTIONS = ["claim", "unclaim", "complete", "refuse"]


@pytest.mark.parametrize("role", DESK_REFUSED)
@pytest.mark.parametrize("page", PAGES)
def test_desk_pages_refuse_other_roles(client, task_id, role, page):
    sign_in(client, role)
    assert client.get(page.format(task=task_id)).status_code == 403


@pytest.mark.parametrize("role", DESK_REFUSED)
@pytest.mark.parametrize("action", ACTIONS)
def test_desk_actions_refuse_other_roles(client, task_id, role, action):
    token = sign_in(client, role)
    response = client.post(f"/tasks/{task_id}/{action}", data={"csrf_token": token})
    assert response.status_code == 403


@pytest.mark.parametrize("role", (*DESK_REFUSED, "clerk"))
def test_supervisor_pages_refuse_other_roles(client, task_id, role):
    token = sign_in(client, role)
    assert client.get("/tasks/supervisor").status_code == 403
    assert client.get("/tasks/?tab=all").status_code == 403
    response = client.post(
        f"/tasks/{task_id}/reassign", data={"csrf_token": token, "user": "clerk2"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("action", ACTIONS)
def test_desk_actions_refuse_a_post_without_csrf_token(client, task_id, action):
    sign_in(client, "clerk")
    assert client.post(f"/tasks/{task_id}/{action}").status_code == 400


def test_clerk_does_not_see_tasks_of_other_roles(client, fake_runtime):
    other = fake_runtime.add_task(CASE, role="supervisor", lane="Supervisor")
    sign_in(client, "clerk")
    assert client.get(f"/tasks/{other}").status_code == 403
    assert client.get("/tasks/nonexistent").status_code == 404


def test_tabs_show_my_tasks_my_roles_queue_and_everything(client, fake_runtime, sessions):
    mine = fake_runtime.add_task(CASE, name="Mine", state="claimed", claimed_by="clerk")
    assigned = fake_runtime.add_task(CASE, name="Assigned", assignee="clerk")
    fake_runtime.add_task(CASE, name="Queued")
    fake_runtime.add_task(CASE, name="Other's", state="claimed", claimed_by="clerk2")
    fake_runtime.add_task(CASE, name="Supervisors'", role="supervisor")
    fake_runtime.add_task(CASE, name="Done", state="completed")
    sign_in(client, "clerk")
    page = client.get("/tasks/").text
    assert mine in page and assigned in page and "Queued" not in page
    queue = client.get("/tasks/?tab=queue").text
    assert "Queued" in queue and "Mine" not in queue and "Other&#39;s" not in queue
    assert "Supervisors&#39;" not in queue
    assert '<span class="count">2</span>' in page  # my tasks
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, "supervisor")
    everything = client.get("/tasks/?tab=all").text
    for name in ("Mine", "Assigned", "Queued", "Other&#39;s", "Supervisors&#39;"):
        assert name in everything
    assert "Done" not in everything


def test_filters_narrow_the_list(client, fake_runtime):
    now = utcnow()
    fake_runtime.add_task(CASE, name="Late one", due_at=now - timedelta(minutes=1))
    fake_runtime.add_task({**CASE, "channel": "online"}, name="Online one")
    fake_runtime.add_task({**CASE, "applicant_iin": "621102401239"}, name="Owner's case")
    claimed = fake_runtime.add_task(CASE, name="Claimed one", state="claimed", claimed_by="x")
    sign_in(client, "supervisor")

    def names(query):
        text = client.get(f"/tasks/?tab=all&{query}").text
        shown = ("Late one", "Online one", "Owner&#39;s case", "Claimed one")
        return {name for name in shown if name in text}

    assert names("overdue=1") == {"Late one"}
    assert names("channel=online") == {"Online one"}
    assert names("state=claimed") == {"Claimed one"}
    assert names("name=late") == {"Late one"}
    assert names("name=%25") == set()
    assert names("q=621102401239") == {"Owner&#39;s case"}
    business_key = task_row(fake_runtime.sessions, claimed).business_key
    assert names(f"q={business_key}") == {"Claimed one"}


def test_list_is_sorted_by_due_time_and_paginated_by_cursor(client, fake_runtime):
    now = utcnow()
    for minute in range(55):
        fake_runtime.add_task(CASE, name=f"T{minute:02d}", due_at=now + timedelta(minutes=minute))
    for n in range(3):
        fake_runtime.add_task(CASE, name=f"Undue{n}", due_at=None)
    sign_in(client, "clerk")
    first = client.get("/tasks/?tab=queue").text
    assert first.index("T00") < first.index("T01") < first.index("T49")
    assert "T50" not in first and 'rel="next"' in first
    cursor = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(cursor).text
    assert "T49" not in second and "T50" in second and "T54" in second
    assert second.index("T54") < second.index("Undue0")
    assert 'rel="next"' not in second
    assert "First page" in second


def test_bad_cursor_is_a_bad_request(client):
    sign_in(client, "clerk")
    assert client.get("/tasks/?tab=queue&after=garbage").status_code == 400


def test_task_page_shows_instructions_lookups_checklist_and_form(client, task_id):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    page = client.get(f"/tasks/{task_id}").text
    assert "&lt;b&gt;Then&lt;/b&gt; decide." in page
    assert "Abenov Arman" in page and "Identity card" in page
    assert "0201300098765432" in page and "621102401239" in page
    assert "Consular register" in page and "DE" in page
    assert "Owner&#39;s written consent" in page
    assert 'name="documents_ok"' in page and 'name="pages"' in page
    assert page.index('name="documents_ok"') < page.index('name="pages"')
    assert 'data-due="' in page


def test_unclaimed_task_offers_claim_not_the_form(client, task_id):
    sign_in(client, "clerk")
    page = client.get(f"/tasks/{task_id}").text
    assert "Claim the task to work on it." in page
    assert 'name="documents_ok"' not in page


def test_clerk_claims_and_completes_a_task(client, task_id, sessions, fake_runtime):
    token = sign_in(client, "clerk")
    assert claim(client, task_id, token).status_code == 303
    assert task_row(sessions, task_id).claimed_by == "clerk"
    response = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": token, "documents_ok": "true", "pages": "3"},
    )
    assert response.status_code == 303
    assert task_row(sessions, task_id).state == "completed"
    data = fake_runtime.data_of(task_id)
    assert data["documents_ok"] is True and data["pages"] == 3
    assert "Task completed for application" in client.get("/tasks/").text


def test_invalid_form_comes_back_with_field_errors_and_what_was_typed(client, task_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    response = client.post(
        f"/tasks/{task_id}/complete", data={"csrf_token": token, "pages": "three"}
    )
    assert response.status_code == 422
    assert "Enter a whole number." in response.text
    assert 'value="three"' in response.text
    response = client.post(f"/tasks/{task_id}/complete", data={"csrf_token": token, "pages": "0"})
    assert response.status_code == 422
    assert "The value is too small." in response.text
    assert task_row(sessions, task_id).state == "claimed"


def test_runtime_field_errors_are_shown_inline(client, task_id, fake_runtime):
    fake_runtime.forms["check_documents.schema.json"] = {
        "type": "object",
        "properties": {"note": {"type": "string"}},
    }
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    original = fake_runtime.complete

    def refuse_note(task, data, actor=None):
        from webapp.runtime.errors import InvalidData

        raise InvalidData("invalid", {"note": "the registry refused this note"})

    fake_runtime.complete = refuse_note
    response = client.post(f"/tasks/{task_id}/complete", data={"csrf_token": token, "note": "x"})
    fake_runtime.complete = original
    assert response.status_code == 422
    assert "the registry refused this note" in response.text


def test_second_clerk_submitting_the_same_task_sees_a_conflict_and_keeps_the_entries(
    app, fake_runtime, task_id, sessions
):
    first, second = app.test_client(), app.test_client()
    first_token = sign_in(first, "clerk")
    second_token = sign_in(second, "clerk2")
    claim(first, task_id, first_token)
    fake_runtime.assign(task_id, "clerk2", "supervisor")
    done = second.post(
        f"/tasks/{task_id}/complete", data={"csrf_token": second_token, "documents_ok": "true"}
    )
    assert done.status_code == 303
    late = first.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": first_token, "documents_ok": "true", "pages": "7"},
    )
    assert late.status_code == 409
    assert "completed or changed by someone else" in late.text
    assert "Your entries (not saved)" in late.text and "<dd>7</dd>" in late.text
    assert task_row(sessions, task_id).completed_by == "clerk2"


def test_claiming_a_task_someone_else_claimed_explains_why(app, task_id):
    first, second = app.test_client(), app.test_client()
    claim(first, task_id, sign_in(first, "clerk"))
    response = claim(second, task_id, sign_in(second, "clerk2"))
    assert response.status_code == 303
    assert "The task could not be claimed" in second.get(response.headers["Location"]).text


def test_refusal_completes_the_task_with_a_coded_reason_and_comment(
    client, task_id, sessions, fake_runtime
):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    page = client.get(f"/tasks/{task_id}").text
    assert "Identity document not valid" in page and 'name="refusal_reason"' in page
    response = client.post(
        f"/tasks/{task_id}/refuse",
        data={"csrf_token": token, "refusal_reason": "document_invalid", "comment": "expired"},
    )
    assert response.status_code == 303
    data = fake_runtime.data_of(task_id)
    assert data["refusal_reason"] == "document_invalid"
    assert data["refusal_comment"] == "expired"


def test_refusal_without_a_reason_is_sent_back(client, task_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    response = client.post(
        f"/tasks/{task_id}/refuse",
        data={"csrf_token": token, "refusal_reason": "under_14", "comment": "kept"},
    )
    assert response.status_code == 422
    assert "Choose the reason for refusal." in response.text and "kept" in response.text
    assert task_row(sessions, task_id).state == "claimed"


def test_unclaim_gives_the_task_back_to_the_queue(client, task_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    response = client.post(f"/tasks/{task_id}/unclaim", data={"csrf_token": token})
    assert response.status_code == 303
    assert task_row(sessions, task_id).claimed_by is None


def test_supervisor_sees_the_queue_and_reassigns_an_overdue_task(client, fake_runtime, sessions):
    late = fake_runtime.add_task(
        CASE,
        state="claimed",
        claimed_by="clerk",
        due_at=utcnow() - timedelta(minutes=5),
        created_at=utcnow() - timedelta(minutes=20),
    )
    fake_runtime.add_task(CASE, name="Review many registrations", role="supervisor")
    token = sign_in(client, "supervisor")
    page = client.get("/tasks/supervisor").text
    assert "Escalations" in page and "Review many registrations" in page
    assert "row-overdue" in page and "20 min" in page
    assert '<option value="clerk2">' in page
    response = client.post(f"/tasks/{late}/reassign", data={"csrf_token": token, "user": "clerk2"})
    assert response.status_code == 303
    assert task_row(sessions, late).claimed_by == "clerk2"
    assert "The task was given to clerk2." in client.get("/tasks/supervisor").text


def test_reassign_without_a_user_is_explained(client, task_id):
    token = sign_in(client, "supervisor")
    response = client.post(
        f"/tasks/{task_id}/reassign", data={"csrf_token": token, "user": ""}, follow_redirects=True
    )
    assert "Choose the user to give the task to." in response.text


def test_counter_form_checks_iin_and_arc_as_typed(client):
    sign_in(client, "clerk")
    page = client.get("/tasks/counter").text
    assert 'data-check="iin"' in page and 'data-check="arc"' in page
    assert "js/iin.js" in page
    assert 'name="channel"' not in page and 'name="application_date"' not in page
    assert 'name="application_number"' not in page


def test_counter_refuses_a_wrong_iin_on_the_server_and_keeps_the_entries(client, sessions):
    token = sign_in(client, "clerk")
    form = {
        "csrf_token": token,
        "applicant_iin": "880517401807",
        "person_iin": APPLICANT_IIN,
        "applicant_type": "self",
        "arc": "123",
        "registration_type": "permanent",
    }
    response = client.post("/tasks/counter", data=form)
    assert response.status_code == 422
    assert "Not a valid IIN" in response.text
    assert "Not a valid address registration code" in response.text
    assert 'value="880517401807"' in response.text
    with sessions.begin() as session:
        assert session.scalar(select(Instance)) is None


def test_counter_starts_a_service_centre_application_and_opens_its_task(
    client, sessions, fake_runtime
):
    token = sign_in(client, "clerk")
    form = {
        "csrf_token": token,
        "applicant_iin": "880517401806",
        "person_iin": APPLICANT_IIN,
        "applicant_type": "self",
        "arc": "0201300098765432",
        "registration_type": "temporary",
        "period_months": "6",
    }
    response = client.post("/tasks/counter", data=form)
    assert response.status_code == 303
    with sessions.begin() as session:
        instance = session.scalar(select(Instance))
        data = fake_runtime.data[instance.id]
        task = session.scalar(select(HumanTask))
    assert data["channel"] == "service_centre" and data["period_months"] == 6
    assert data["arrived_from_abroad"] is False
    assert len(data["application_date"]) == 10
    assert response.headers["Location"].endswith(f"/tasks/{task.id}")
    assert "has been started" in client.get(response.headers["Location"]).text


def test_counter_without_the_application_schema_is_not_found(app, client):
    app.config["COUNTER_SCHEMA_PATH"] = "/nonexistent/application.schema.json"
    sign_in(client, "clerk")
    assert client.get("/tasks/counter").status_code == 404


def test_counter_check_form_of_the_process_refuses_with_its_coded_result(
    client, fake_runtime, sessions
):
    schema = json.loads((FIXTURES / "check_documents.schema.json").read_text())
    ui_schema = json.loads((FIXTURES / "check_documents.uischema.json").read_text())
    fake_runtime.forms["counter_check"] = schema
    fake_runtime.ui_forms["counter_check"] = ui_schema
    task_id = fake_runtime.add_task(CASE, form="counter_check")
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    page = client.get(f"/tasks/{task_id}").text
    assert "Refuse: representative not entitled" in page
    assert "A refusal ends the application with this reason." in page
    assert 'name="refusal_reason"' not in page
    response = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": token, "check_result": "no_authority", "check_note": "no decree"},
    )
    assert response.status_code == 303
    data = fake_runtime.data_of(task_id)
    assert data["check_result"] == "no_authority" and data["check_note"] == "no decree"
    assert data["identity_document_checked"] is False
