"""Staff belong to a service centre: set by administrators, checked against centres.json, and
named by the counter applications they make and the claims they take. Every start checks the
centre its data names, however it comes."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from tests.web.conftest import APPLICANT_IIN, OWNER_IIN, application, sign_in
from webapp.accounts import AccountError, create_user, find_user, set_centre
from webapp.accounts.cli import users
from webapp.db.accounts import User
from webapp.db.models import HumanTask, Instance, InstanceEvent
from webapp.runtime.errors import InvalidData

PASSWORD = "long enough password"
FORM = {
    "applicant_iin": OWNER_IIN,
    "person_iin": APPLICANT_IIN,
    "applicant_type": "attorney",
    "arc": "0201300012740054",
    "registration_type": "permanent",
}


def run(sessions, *args):
    return CliRunner().invoke(users, list(args), obj={"session_factory": sessions})


def test_an_unknown_centre_is_refused_naming_the_field(sessions):
    with sessions.begin() as session:
        try:
            create_user(session, "aidos", PASSWORD, ["clerk"], centre="NOWHERE")
        except AccountError as error:
            assert str(error).startswith("centre: 'NOWHERE' is not a service centre")
        else:
            raise AssertionError("an unknown centre was accepted")
        assert find_user(session, "aidos") is None
        set_centre(session, "clerk", "ALM-BOSTANDYK")
        assert find_user(session, "clerk").centre == "ALM-BOSTANDYK"


def test_the_users_commands_set_a_centre_and_refuse_an_unknown_one(sessions):
    added = run(sessions, "add", "aidos", "--role", "clerk", "--password", PASSWORD,
                "--centre", "AST-YESIL")  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = run(sessions, "centre", "aidos", "NOWHERE")
    assert bad.exit_code == 1 and "centre: 'NOWHERE' is not a service centre" in bad.output
    assert run(sessions, "centre", "clerk", "ALM-BOSTANDYK").exit_code == 0
    assert run(sessions, "centre", "aidos").exit_code == 0
    with sessions.begin() as session:
        assert find_user(session, "aidos").centre is None
        assert find_user(session, "clerk").centre == "ALM-BOSTANDYK"


def test_the_users_page_sets_a_centre_and_refuses_an_unknown_one_with_422(client, sessions):
    token = sign_in(client, "administrator")
    assert 'value="AST-YESIL"' in client.get("/admin/users").text
    bad = client.post("/admin/users/clerk/centre", data={"csrf_token": token, "centre": "X"})
    assert bad.status_code == 422 and "centre: &#39;X&#39; is not a service centre" in bad.text
    added = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "aidos", "password": PASSWORD,
              "roles": ["clerk"], "centre": "X"},
    )  # fmt: skip
    assert added.status_code == 422
    with sessions.begin() as session:
        assert find_user(session, "clerk").centre is None and find_user(session, "aidos") is None
    good = client.post(
        "/admin/users/clerk/centre", data={"csrf_token": token, "centre": "AST-YESIL"}
    )
    assert good.status_code == 302
    with sessions.begin() as session:
        assert find_user(session, "clerk").centre == "AST-YESIL"


def claim_events(sessions) -> list[dict | None]:
    with sessions.begin() as session:
        return list(
            session.scalars(select(InstanceEvent.data).where(InstanceEvent.kind == "claimed"))
        )


def stored(sessions) -> tuple[int, int, int]:
    """Return how many instances, events and tasks the database holds."""
    with sessions.begin() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table))
            for table in (Instance, InstanceEvent, HumanTask)
        )


def test_a_counter_application_records_the_clerks_centre_and_its_claim_names_it(
    client, runtime, sessions
):
    with sessions.begin() as session:
        set_centre(session, "clerk", "AST-YESIL")
    token = sign_in(client, "clerk")
    response = client.post("/tasks/counter", data={"csrf_token": token, **FORM})
    assert response.status_code == 303
    with sessions.begin() as session:
        instance_id = session.scalar(select(Instance.id))
    assert runtime.instance(instance_id).data["service_centre_id"] == "AST-YESIL"
    assert claim_events(sessions) == [{"centre": "AST-YESIL"}]


def test_a_booked_visit_names_its_centre_and_an_unknown_one_is_refused(client, runtime, sessions):
    token = sign_in(client, "clerk")
    # The bookings page's link names the visit's centre; the form carries it on.
    page = client.get("/tasks/counter?centre=ALM-BOSTANDYK").text
    assert '<input type="hidden" name="centre" value="ALM-BOSTANDYK">' in page
    bad = client.post("/tasks/counter", data={"csrf_token": token, "centre": "X", **FORM})
    assert bad.status_code == 422
    assert "Service centre: &#39;X&#39; is not a service centre" in bad.text
    assert stored(sessions) == (0, 0, 0)
    form = {"csrf_token": token, "centre": "ALM-BOSTANDYK", **FORM}
    assert client.post("/tasks/counter", data=form).status_code == 303
    with sessions.begin() as session:
        instance_id = session.scalar(select(Instance.id))
        task_id = session.scalar(select(HumanTask.id))
    assert runtime.instance(instance_id).data["service_centre_id"] == "ALM-BOSTANDYK"
    # The clerk has no centre of their own: the claim says nothing of one.
    assert claim_events(sessions) == [None]
    with sessions.begin() as session:
        set_centre(session, "clerk2", "ALM-BOSTANDYK")
    runtime.unclaim(task_id, "clerk")
    runtime.claim(task_id, "clerk2")
    assert claim_events(sessions) == [None, {"centre": "ALM-BOSTANDYK"}]


def test_a_runtime_start_naming_no_centre_is_refused_and_stores_nothing(runtime, sessions):
    with pytest.raises(InvalidData) as refused:
        runtime.start("residence_registration", application(service_centre_id="NOWHERE"))
    assert set(refused.value.errors) == {"service_centre_id"}
    assert "'NOWHERE' is not a service centre" in refused.value.errors["service_centre_id"]
    with pytest.raises(InvalidData):
        runtime.start("residence_registration", application(service_centre_id=7))
    assert stored(sessions) == (0, 0, 0)
    kept = runtime.start("residence_registration", application(service_centre_id="AST-YESIL"))
    assert kept.data["service_centre_id"] == "AST-YESIL"
    # Online applications name no centre: a missing or null one is not checked.
    assert runtime.start("residence_registration", application("A-0101")).status == "waiting"
    none = runtime.start("residence_registration", application("A-0102", service_centre_id=None))
    assert none.status == "waiting"


def test_an_api_start_naming_no_centre_is_answered_422_naming_the_field(
    client, token_for, sessions
):
    headers = {"Authorization": f"Bearer {token_for('clerk')}"}
    body = {"process_id": "residence_registration"}
    bad = {**body, "data": application(service_centre_id="NOWHERE")}
    refused = client.post("/api/v1/instances", json=bad, headers=headers)
    assert refused.status_code == 422
    answer = refused.get_json()
    assert answer["error"] == "invalid_data" and set(answer["errors"]) == {"service_centre_id"}
    assert "'NOWHERE' is not a service centre" in answer["errors"]["service_centre_id"]
    assert stored(sessions) == (0, 0, 0)
    good = {**body, "data": application(service_centre_id="ALM-BOSTANDYK")}
    started = client.post("/api/v1/instances", json=good, headers=headers)
    assert started.status_code == 201
    assert started.get_json()["data"]["service_centre_id"] == "ALM-BOSTANDYK"


def test_a_counter_application_at_a_centre_no_longer_known_is_refused_on_the_centre_field(
    client, sessions
):
    # The clerk's account names a centre that centres.json has since dropped.
    with sessions.begin() as session:
        session.execute(update(User).where(User.username == "clerk").values(centre="GONE"))
    token = sign_in(client, "clerk")
    refused = client.post("/tasks/counter", data={"csrf_token": token, **FORM})
    assert refused.status_code == 422
    assert "Service centre: &#39;GONE&#39; is not a service centre" in refused.text
    assert stored(sessions) == (0, 0, 0)
