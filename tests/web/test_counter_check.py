"""The clerk's counter check: the checks that apply, the receipt, and the person's name in lists."""

import pytest
from sqlalchemy import select

from tests.web.conftest import OWNER_IIN, sign_in
from webapp.db.models import HumanTask
from webapp.privacy import Privacy
from webapp.web.tasklist import person_names

PERSON_NAME = "Akhmetov Yerlan Serikovich"


@pytest.fixture
def task_id(start_check) -> str:
    """The adult's own application at the counter: only the identity check applies."""
    return start_check()


@pytest.fixture
def attorney_check(start_check) -> str:
    """An attorney's application at the counter: identity and authority checks apply."""
    return start_check(applicant_iin=OWNER_IIN, applicant_type="attorney")


def open_rows(sessions) -> list[HumanTask]:
    with sessions.begin() as session:
        return list(session.scalars(select(HumanTask).where(HumanTask.state != "completed")))


def test_desk_refuses_accepted_with_an_unticked_applicable_check_naming_the_field(
    client, runtime, sessions, attorney_check
):
    token = sign_in(client, "clerk")
    client.post(f"/tasks/{attorney_check}/claim", data={"csrf_token": token})
    page = client.get(f"/tasks/{attorney_check}").text
    assert 'name="authority_checked"' in page and 'name="owner_consent_checked"' not in page
    response = client.post(
        f"/tasks/{attorney_check}/complete",
        data={"csrf_token": token, "identity_document_checked": "true", "check_result": "accepted"},
    )
    assert response.status_code == 422
    assert 'id="error-authority_checked"' in response.text
    assert "Tick this check" in response.text
    [row] = open_rows(sessions)
    assert (row.id, row.state) == (attorney_check, "claimed")
    assert "authority_checked" not in runtime.task_data(attorney_check)


def test_api_refuses_accepted_with_an_unticked_applicable_check_naming_the_field(
    client, runtime, sessions, token_for, attorney_check
):
    headers = {"Authorization": f"Bearer {token_for('clerk')}"}
    client.post(f"/api/v1/tasks/{attorney_check}/claim", headers=headers)
    body = {"data": {"identity_document_checked": True, "check_result": "accepted"}}
    response = client.post(f"/api/v1/tasks/{attorney_check}/complete", json=body, headers=headers)
    assert response.status_code == 422
    assert "authority_checked" in response.json["errors"]
    assert [row.id for row in open_rows(sessions)] == [attorney_check]
    body["data"]["authority_checked"] = True
    response = client.post(f"/api/v1/tasks/{attorney_check}/complete", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json["data"]["outcome"] == "registered"


def test_api_refuses_the_checklist_the_process_sets(client, token_for, attorney_check):
    headers = {"Authorization": f"Bearer {token_for('clerk')}"}
    client.post(f"/api/v1/tasks/{attorney_check}/claim", headers=headers)
    data = {"identity_document_checked": True, "check_result": "accepted"}
    data["authority_documents"] = ""
    response = client.post(
        f"/api/v1/tasks/{attorney_check}/complete", json={"data": data}, headers=headers
    )
    assert response.status_code == 422
    assert "read-only" in response.json["errors"]["authority_documents"]


def registered(client, runtime, task_id: str) -> int:
    """Complete the adult's own check at the desk; return the instance it registered."""
    token = sign_in(client, "clerk")
    client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    done = client.post(
        f"/tasks/{task_id}/complete",
        data={"csrf_token": token, "identity_document_checked": "true", "check_result": "accepted"},
    )
    assert done.status_code == 303
    return runtime.task(task_id).instance_id


@pytest.mark.parametrize(
    ("language", "service", "kind"),
    [
        ("kk", "Тұрғылықты жері бойынша тіркеу", "Тұрақты"),
        ("ru", "Регистрация по месту жительства", "Постоянная"),
        ("en", "Registration at the place of residence", "Permanent"),
    ],
)
def test_receipt_is_printed_in_the_citizens_language(
    client, runtime, task_id, language, service, kind
):
    instance_id = registered(client, runtime, task_id)
    data = runtime.instance(instance_id).data
    page = client.get(f"/receipts/{instance_id}?lang={language}").text
    receipt = page[page.index('<article class="receipt"') :]
    assert f'lang="{language}"' in receipt[:60]
    assert service in receipt and kind in receipt
    assert data["registration_id"] in receipt and PERSON_NAME in receipt
    assert data["premises"]["address"]["street"] in receipt
    assert "css/receipt.css" in page


def test_receipt_of_an_open_application_is_not_found_and_a_bad_language_is_refused(
    client, runtime, task_id
):
    sign_in(client, "clerk")
    instance_id = runtime.task(task_id).instance_id
    assert client.get(f"/receipts/{instance_id}").status_code == 404
    assert client.get("/receipts/999999").status_code == 404
    done = registered(client, runtime, task_id)
    assert client.get(f"/receipts/{done}?lang=xx").status_code == 400


def test_receipt_stylesheet_prints_only_the_receipt(client):
    answer = client.get("/static/css/receipt.css")
    css = answer.text
    answer.close()
    media_print = css[css.index("@media print") :]
    assert ".site-header" in media_print and ".receipt-tools" in media_print


def test_task_lists_show_the_persons_name_to_the_desk(client, token_for, task_id):
    sign_in(client, "clerk")
    assert PERSON_NAME in client.get("/tasks/?tab=queue").text
    sign_in(client, "supervisor")
    assert PERSON_NAME in client.get("/tasks/supervisor").text
    headers = {"Authorization": f"Bearer {token_for('clerk')}"}
    [task] = client.get("/api/v1/tasks?tab=queue", headers=headers).json["tasks"]
    assert (task["id"], task["person_name"]) == (task_id, PERSON_NAME)


@pytest.mark.parametrize(
    ("roles", "shown"),
    [
        (["clerk"], PERSON_NAME),
        (["supervisor"], PERSON_NAME),
        (["applicant"], PERSON_NAME),
        (["administrator"], "A. Y. S."),
        (["analyst"], "***"),
        (["process_owner"], "***"),
        ([], "***"),
    ],
)
def test_task_list_names_are_masked_by_the_viewers_roles(sessions, task_id, roles, shown):
    view = Privacy(b"key").view(roles)
    with sessions.begin() as session:
        task = session.get(HumanTask, task_id)
        assert person_names(session, [task], view) == {task.instance_id: shown}
