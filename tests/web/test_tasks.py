"""The desk: task lists, the task page, claiming, completing, refusing, the queue, the counter."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.conftest import (
    APPLICANT_IIN,
    OWNER_IIN,
    application,
    csrf_token,
    sign_in,
    signed_start,
)
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance
from webapp.web.tasklist import PAGE_SIZE

DESK_REFUSED = ("process_owner", "analyst", "administrator", "applicant")
# The adult registers himself at his own flat: only the identity check applies.
ACCEPTED = {"identity_document_checked": True, "check_result": "accepted"}


@pytest.fixture
def task_id(start_check):
    return start_check()


@pytest.fixture
def decision_id(start_decision):
    return start_decision()


def escalation(runtime, start_check) -> str:
    """Start an application and let its service term pass: return the supervisor's task."""
    start_check()
    runtime.run_due_jobs(now=utcnow() + timedelta(minutes=16))
    with runtime.transaction() as session:
        return session.scalar(select(HumanTask.id).where(HumanTask.role == "supervisor"))


def instance_data(runtime, task_id: str) -> dict:
    """Return the data of the instance a task belongs to."""
    return runtime.instance(runtime.task(task_id).instance_id).data


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


def test_clerk_does_not_see_tasks_of_other_roles(client, runtime, start_check):
    other = escalation(runtime, start_check)
    sign_in(client, "clerk")
    assert client.get(f"/tasks/{other}").status_code == 403
    assert client.get("/tasks/nonexistent").status_code == 404


def test_tabs_show_my_tasks_my_roles_queue_and_everything(client, runtime, start_check):
    mine, assigned, queued, others = (start_check() for _ in range(4))
    runtime.claim(mine, "clerk")
    runtime.assign(assigned, "clerk", "supervisor")
    runtime.claim(others, "clerk2")
    done = start_check()
    runtime.claim(done, "clerk2")
    runtime.complete(done, ACCEPTED, actor="clerk2")
    runtime.run_due_jobs(now=utcnow() + timedelta(minutes=16))  # escalates the open checks
    key = {t: runtime.instance(runtime.task(t).instance_id).business_key for t in (
        mine, assigned, queued, others, done)}  # fmt: skip
    sign_in(client, "clerk")
    page = client.get("/tasks/").text
    assert mine in page and assigned in page and key[queued] not in page
    queue = client.get("/tasks/?tab=queue").text
    assert key[queued] in queue and key[mine] not in queue and key[others] not in queue
    assert "Handle" not in queue
    assert '<span class="count">2</span>' in page  # my tasks
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, "supervisor")
    everything = client.get("/tasks/?tab=all").text
    for task in (mine, assigned, queued, others):
        assert task in everything
    assert done not in everything and "Handle" in everything


def test_filters_narrow_the_list(client, runtime, start_check, signer):
    late = start_check(at=utcnow() - timedelta(minutes=16))
    owner = {"applicant_iin": OWNER_IIN, "person_iin": OWNER_IIN}
    document = application("B-0001", channel="online", **owner)
    document = signed_start(runtime, signer, "residence_registration", document)
    [online] = [t.id for t in runtime.start("residence_registration", document).ready_tasks]
    owners = start_check(**owner)
    claimed = start_check()
    runtime.claim(claimed, "clerk2")
    sign_in(client, "supervisor")
    checks = {"late": late, "online": online, "owners": owners, "claimed": claimed}

    def shown(query):
        text = client.get(f"/tasks/?tab=all&{query}").text
        return {name for name, task in checks.items() if task in text}

    assert shown("overdue=1") == {"late"}
    assert shown("channel=online") == {"online"}
    assert shown("channel=service_centre") == {"late", "owners", "claimed"}
    assert shown("state=claimed") == {"claimed"}
    assert shown("name=counter") == {"late", "owners", "claimed"}
    assert shown("name=%25") == set()
    assert shown(f"q={OWNER_IIN}") == {"online", "owners"}
    business_key = runtime.instance(runtime.task(claimed).instance_id).business_key
    assert shown(f"q={business_key}") == {"claimed"}


def test_list_is_sorted_by_due_time_and_paginated_by_cursor(client, start_check):
    now = utcnow()
    for minute in range(PAGE_SIZE + 5):
        start_check(at=now + timedelta(minutes=minute))
    sign_in(client, "clerk")
    first = client.get("/tasks/?tab=queue").text
    last, next_one, final = (f"A-{n:04d}" for n in (PAGE_SIZE, PAGE_SIZE + 1, PAGE_SIZE + 5))
    assert first.index("A-0001") < first.index("A-0002") < first.index(last)
    assert next_one not in first and 'rel="next"' in first
    cursor = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(cursor).text
    assert last not in second and next_one in second and final in second
    assert second.index(next_one) < second.index(final)
    assert 'rel="next"' not in second
    assert "First page" in second


def test_bad_cursor_is_a_bad_request(client):
    sign_in(client, "clerk")
    assert client.get("/tasks/?tab=queue&after=garbage").status_code == 400


def test_task_page_shows_instructions_lookups_checklist_and_form(client, task_id):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    page = client.get(f"/tasks/{task_id}").text
    assert "Check the originals: the identity card of the person registered." in page
    assert "Akhmetov Yerlan" in page and "0201300012740054" in page
    assert 'name="check_result"' in page and 'name="check_note"' in page
    assert page.index('name="identity_document_checked"') < page.index('name="check_note"')
    # One checklist, the form's, with only the checks that apply to this application.
    assert "Document checklist" not in page and 'type="checkbox">' not in page
    assert 'name="authority_checked"' not in page and 'name="owner_consent_checked"' not in page
    assert 'name="identity_documents"' not in page
    assert "Refuse: representative not entitled" in page
    assert "A refusal ends the application with this reason." in page
    assert 'data-due="' in page


def test_instructions_are_rendered_as_text(client, decision_id):
    token = sign_in(client, "clerk")
    claim(client, decision_id, token)
    page = client.get(f"/tasks/{decision_id}").text
    assert "&lt;b&gt;Then&lt;/b&gt; decide." in page
    assert page.index('name="documents_ok"') < page.index('name="pages"')


def test_unclaimed_task_offers_claim_not_the_form(client, task_id):
    sign_in(client, "clerk")
    page = client.get(f"/tasks/{task_id}").text
    assert "Claim the task to work on it." in page
    assert 'name="check_result"' not in page


def test_clerk_claims_and_completes_the_check_and_the_application_is_registered(
    client, runtime, task_id, sessions
):
    token = sign_in(client, "clerk")
    assert claim(client, task_id, token).status_code == 303
    assert task_row(sessions, task_id).claimed_by == "clerk"
    response = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": token, "identity_document_checked": "true", "check_result": "accepted"},
    )
    assert response.status_code == 303
    assert task_row(sessions, task_id).state == "completed"
    data = instance_data(runtime, task_id)
    assert data["identity_document_checked"] is True and data["outcome"] == "registered"
    instance_id = runtime.task(task_id).instance_id
    assert response.headers["Location"].endswith(f"/receipts/{instance_id}")
    receipt = client.get(response.headers["Location"]).text
    assert "Task completed for application" in receipt
    assert data["registration_id"] in receipt


def test_invalid_form_comes_back_with_field_errors_and_what_was_typed(
    client, decision_id, sessions
):
    token = sign_in(client, "clerk")
    claim(client, decision_id, token)
    response = client.post(
        f"/tasks/{decision_id}/complete", data={"csrf_token": token, "pages": "three"}
    )
    assert response.status_code == 422
    assert "Enter a whole number." in response.text
    assert 'value="three"' in response.text
    response = client.post(
        f"/tasks/{decision_id}/complete", data={"csrf_token": token, "pages": "0"}
    )
    assert response.status_code == 422
    assert "The value is too small." in response.text
    assert task_row(sessions, decision_id).state == "claimed"


def test_check_without_a_result_is_sent_back_with_the_note_kept(client, task_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    response = client.post(
        f"/tasks/{task_id}/complete", data={"csrf_token": token, "check_note": "seen"}
    )
    assert response.status_code == 422
    assert "seen" in response.text
    assert task_row(sessions, task_id).state == "claimed"


def test_second_clerk_submitting_the_same_task_sees_a_conflict_and_keeps_the_entries(
    app, runtime, decision_id, sessions
):
    first, second = app.test_client(), app.test_client()
    first_token = sign_in(first, "clerk")
    second_token = sign_in(second, "clerk2")
    claim(first, decision_id, first_token)
    runtime.assign(decision_id, "clerk2", "supervisor")
    done = second.post(
        f"/tasks/{decision_id}/complete",
        data={"csrf_token": second_token, "documents_ok": "true"},
    )
    assert done.status_code == 303
    late = first.post(
        f"/tasks/{decision_id}/complete",
        data={"csrf_token": first_token, "documents_ok": "true", "pages": "7"},
    )
    assert late.status_code == 409
    assert "completed or changed by someone else" in late.text
    assert "Your entries (not saved)" in late.text and "<dd>7</dd>" in late.text
    assert task_row(sessions, decision_id).completed_by == "clerk2"


def test_claiming_a_task_someone_else_claimed_explains_why(app, task_id):
    first, second = app.test_client(), app.test_client()
    claim(first, task_id, sign_in(first, "clerk"))
    response = claim(second, task_id, sign_in(second, "clerk2"))
    assert response.status_code == 303
    assert "The task could not be claimed" in second.get(response.headers["Location"]).text


def test_refusal_completes_the_task_with_a_coded_reason_and_comment(client, runtime, decision_id):
    token = sign_in(client, "clerk")
    claim(client, decision_id, token)
    page = client.get(f"/tasks/{decision_id}").text
    assert "Identity document not valid" in page and 'name="refusal_reason"' in page
    response = client.post(
        f"/tasks/{decision_id}/refuse",
        data={"csrf_token": token, "refusal_reason": "document_invalid", "comment": "expired"},
    )
    assert response.status_code == 303
    data = instance_data(runtime, decision_id)
    assert data["refusal_reason"] == "document_invalid"
    assert data["refusal_comment"] == "expired" and data["documents_ok"] is False


def test_refusal_without_a_reason_is_sent_back(client, decision_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, decision_id, token)
    response = client.post(
        f"/tasks/{decision_id}/refuse",
        data={"csrf_token": token, "refusal_reason": "under_14", "comment": "kept"},
    )
    assert response.status_code == 422
    assert "Choose the reason for refusal." in response.text and "kept" in response.text
    assert task_row(sessions, decision_id).state == "claimed"


def test_unclaim_gives_the_task_back_to_the_queue(client, task_id, sessions):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    response = client.post(f"/tasks/{task_id}/unclaim", data={"csrf_token": token})
    assert response.status_code == 303
    assert task_row(sessions, task_id).claimed_by is None


def test_supervisor_sees_the_queue_and_reassigns_an_overdue_task(
    client, runtime, start_check, sessions
):
    late = start_check(at=utcnow() - timedelta(minutes=20))
    runtime.claim(late, "clerk")
    # The timer counts the service term from the wall clock: the worker runs it 16 minutes on.
    runtime.run_due_jobs(now=utcnow() + timedelta(minutes=16))
    token = sign_in(client, "supervisor")
    page = client.get("/tasks/supervisor").text
    assert "Escalations" in page and "Handle" in page
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


def test_counter_starts_a_service_centre_application_and_opens_its_check(client, runtime, sessions):
    token = sign_in(client, "clerk")
    form = {
        "csrf_token": token,
        "applicant_iin": OWNER_IIN,
        "person_iin": APPLICANT_IIN,
        "applicant_type": "attorney",
        "arc": "0201300012740054",
        "registration_type": "temporary",
        "period_months": "6",
    }
    response = client.post("/tasks/counter", data=form)
    assert response.status_code == 303
    with sessions.begin() as session:
        instance_id = session.scalar(select(Instance.id))
        task = session.scalar(select(HumanTask))
    data = runtime.instance(instance_id).data
    assert data["channel"] == "service_centre" and data["period_months"] == 6
    assert data["arrived_from_abroad"] is False
    assert len(data["application_date"]) == 10
    assert task.bpmn_id == "Task_CheckDocuments"
    # The check starts claimed by the clerk who started it: the form is there, no claim step.
    assert (task.state, task.claimed_by) == ("claimed", "clerk")
    assert response.headers["Location"].endswith(f"/tasks/{task.id}")
    page = client.get(response.headers["Location"]).text
    assert "has been started" in page and 'name="check_result"' in page
    assert 'name="authority_checked"' in page
    assert "Claim the task to work on it." not in page


def test_counter_sends_an_adult_of_full_capacity_online_under_the_online_first_rule(
    client, sessions
):
    token = sign_in(client, "clerk")
    form = {
        "csrf_token": token,
        "applicant_iin": APPLICANT_IIN,
        "person_iin": APPLICANT_IIN,
        "applicant_type": "self",
        "arc": "0201300012740054",
        "registration_type": "permanent",
    }
    response = client.post("/tasks/counter", data=form)
    assert response.headers["Location"].endswith("/tasks/")
    assert "Apply online" in client.get(response.headers["Location"]).text
    with sessions.begin() as session:
        assert session.scalar(select(HumanTask)) is None


def test_counter_without_the_application_schema_is_not_found(app, client):
    app.config["COUNTER_SCHEMA_PATH"] = "/nonexistent/application.schema.json"
    sign_in(client, "clerk")
    assert client.get("/tasks/counter").status_code == 404


def test_counter_check_refuses_with_its_coded_result(client, runtime, task_id):
    token = sign_in(client, "clerk")
    claim(client, task_id, token)
    assert 'name="refusal_reason"' not in client.get(f"/tasks/{task_id}").text
    response = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": token, "check_result": "no_authority", "check_note": "no decree"},
    )
    assert response.status_code == 303
    data = instance_data(runtime, task_id)
    assert data["check_result"] == "no_authority" and data["check_note"] == "no decree"
    assert data["identity_document_checked"] is False
    assert (data["outcome"], data["refusal_reason"]) == ("refused", "no_authority")
