"""Finding 3: a process owner alone wrote to the registry by deploying and starting a process.

Now a deployment made in the browser waits for a second person's approval, registry-writing
operators are refused outside the processes the operator allows, and process owners no longer
start instances or deliver messages through the API.
"""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.operations.conftest import PASSWORD, signed_in
from tests.processes.driver import SETTINGS
from tests.runtime.conftest import DIAGRAMS
from tests.web.conftest import application
from webapp.accounts import create_user, issue_token
from webapp.bootstrap import Product, bundles, product_runtime, read_bundle
from webapp.cli import main
from webapp.db.models import Deployment
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import Forbidden, NotFound
from webapp.settings import Settings
from webapp.web import create_app

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BPMN_FILE = "residence_registration.bpmn"
EDITOR = "/processes/residence_registration/1/save"
NON_CITIZEN = "790125389837"
CO_OWNED_FLAT = "0201100045810023"
GRAB = {
    "application_number": "X-1",
    "person_iin": NON_CITIZEN,
    "arc": CO_OWNED_FLAT,
    "registration_type": "permanent",
}


def one_step(process_id: str) -> bytes:
    """Return the attack's diagram: start, one registration.register service task, end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_Grab" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Grab"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Grab" targetRef="Task_Register"/>
    <bpmn:serviceTask id="Task_Register">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="registration.register" resultVariable="r">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="application_number" type="str"
                value="application_number"/>
            <spiffworkflow:parameter id="iin" type="str" value="person_iin"/>
            <spiffworkflow:parameter id="arc" type="str" value="arc"/>
            <spiffworkflow:parameter id="registration_type" type="str"
                value="registration_type"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Register" targetRef="EndEvent_Grab"/>
    <bpmn:endEvent id="EndEvent_Grab"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


@pytest.fixture
def store(tmp_path) -> SandboxStore:
    store = SandboxStore(f"sqlite:///{tmp_path / 'registries.db'}")
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    yield store
    store.dispose()


@pytest.fixture
def runtime(database_url, store) -> Runtime:
    engine = make_engine(database_url)
    upgrade(engine)
    operators = build_operators({"registry_mode": "sandbox", "registry_url": str(store.engine.url)})
    runtime = product_runtime(make_session_factory(engine), operators, SETTINGS, list)
    [registration] = bundles([PROCESSES])
    runtime.deploy(read_bundle(registration), deployed_by="tirkeu init")
    with runtime.session_factory.begin() as session:
        for username, role in (
            ("owner", "process_owner"),
            ("owner2", "process_owner"),
            ("admin", "administrator"),
            ("clerk", "clerk"),
        ):
            create_user(session, username, PASSWORD, [role], full_name=username)
    yield runtime
    engine.dispose()


@pytest.fixture
def app(runtime, tmp_path):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": runtime,
            "SESSION_FACTORY": runtime.session_factory,
            "ARCHIVE_FOLDER": tmp_path / "archives",
            "RATELIMIT_ENABLED": False,
        }
    )


def bearer(runtime: Runtime, username: str) -> dict[str, str]:
    with runtime.session_factory.begin() as session:
        return {"Authorization": f"Bearer {issue_token(session, username)}"}


def propose(app, username: str, content: bytes):
    """Save the registration's diagram replaced by content, and deploy it, as username."""
    client, token = signed_in(app, username)
    headers = {"X-CSRFToken": token, "Content-Type": "application/xml"}
    return client.post(f"{EDITOR}/{BPMN_FILE}?deploy=1", data=content, headers=headers)


def decide(app, username: str, deployment_id: int, decision: str):
    client, token = signed_in(app, username)
    url = f"/processes/deployments/{deployment_id}/{decision}"
    return client, client.post(url, data={"csrf_token": token})


def deployment_row(runtime: Runtime, deployment_id: int) -> Deployment:
    with runtime.session_factory() as session:
        return session.get(Deployment, deployment_id)


def test_the_attack_is_refused_at_deploy_and_at_start(app, runtime, store):
    answer = propose(app, "owner", one_step("grab"))
    assert answer.status_code == 422
    [problem] = answer.get_json()["problems"]
    assert (problem["file"], problem["element"]) == (BPMN_FILE, "Task_Register")
    assert problem["line"] and "'registration.register'" in problem["message"]
    assert "'grab'" in problem["message"] and "registry_writers" in problem["message"]

    started = app.test_client().post(
        "/api/v1/instances",
        json={"process_id": "residence_registration", "data": GRAB},
        headers=bearer(runtime, "owner"),
    )
    assert started.status_code == 403
    assert store.writes("registration.register") == []
    assert [d.status for d in runtime.deployments()] == ["approved"]


def test_validate_names_the_operator_and_the_process_with_file_and_line(runtime):
    [problem] = runtime.validate({"grab.bpmn": one_step("grab")})
    expected = r"grab\.bpmn:\d+: Task_Register: service operator 'registration.register' writes"
    assert re.match(expected + " to a registry: process 'grab' may not use it", str(problem))


def test_process_owners_deliver_no_messages_to_real_instances(app, runtime):
    answer = app.test_client().post(
        "/api/v1/messages",
        json={"name": "consent_given", "payload": {}, "correlation": {}},
        headers=bearer(runtime, "owner"),
    )
    assert answer.status_code == 403


def test_a_pending_deployment_has_no_effect_until_another_person_approves(app, runtime, store):
    # Named as the allowed process, the one-step diagram passes the allow-list: the second
    # person is what stops it.
    answer = propose(app, "owner", one_step("residence_registration"))
    assert answer.status_code == 200
    [deployed] = answer.get_json()["deployed"]
    assert (deployed["version"], deployed["status"]) == (2, "pending")

    clerk = bearer(runtime, "clerk")
    started = app.test_client().post(
        "/api/v1/instances",
        json={"process_id": "residence_registration", "data": {**application("X-1"), **GRAB}},
        headers=clerk,
    )  # fmt: skip
    assert started.status_code == 201 and started.get_json()["version"] == 1
    assert store.writes("registration.register") == []
    with pytest.raises(NotFound, match="no approved version 2"):
        runtime.migrate(started.get_json()["id"], 2, actor="admin")

    client, _token = signed_in(app, "owner2")
    review = client.get(deployed["review_url"]).get_data(as_text=True)
    assert "Task_Register" in review and "Approve" in review and "Reject" in review
    _client, approved = decide(app, "owner2", deployed["deployment_id"], "approve")
    assert approved.status_code == 302
    assert runtime.start("residence_registration", application("X-2"), actor="clerk").version == 2


def test_the_author_cannot_approve_their_own_deployment(app, runtime):
    answer = propose(app, "owner", one_step("residence_registration"))
    deployment_id = answer.get_json()["deployed"][0]["deployment_id"]
    client, approved = decide(app, "owner", deployment_id, "approve")
    assert approved.status_code == 302
    assert "another person decides" in client.get(approved.location).get_data(as_text=True)
    with pytest.raises(Forbidden):
        runtime.approve(deployment_id, "owner")
    assert deployment_row(runtime, deployment_id).status == "pending"
    assert runtime.start("residence_registration", application("X-3"), actor="clerk").version == 1


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_approval_and_rejection_are_recorded_with_who_and_when(app, runtime, decision):
    answer = propose(app, "owner", one_step("residence_registration"))
    deployment_id = answer.get_json()["deployed"][0]["deployment_id"]
    decide(app, "admin", deployment_id, decision)
    row = deployment_row(runtime, deployment_id)
    status = "approved" if decision == "approve" else "rejected"
    assert (row.status, row.deployed_by, row.decided_by) == (status, "owner", "admin")
    assert row.decided_at is not None and row.decided_at >= row.created_at
    _client, again = decide(app, "owner2", deployment_id, "approve")
    assert deployment_row(runtime, deployment_id).decided_by == "admin"
    expected = 2 if decision == "approve" else 1
    assert (
        runtime.start("residence_registration", application("X-4"), actor="clerk").version
        == expected
    )
    page = signed_in(app, "owner2")[0].get("/processes/deployments/").get_data(as_text=True)
    assert f'data-deployment="{deployment_id}"' in page and "admin" in page


def test_rejected_content_is_not_proposed_again_unchanged(app, runtime):
    answer = propose(app, "owner", one_step("residence_registration"))
    decide(app, "admin", answer.get_json()["deployed"][0]["deployment_id"], "reject")
    again = propose(app, "owner2", one_step("residence_registration"))
    assert again.status_code == 409
    assert "rejected by admin" in again.get_json()["problems"][0]["message"]


def test_the_operator_lists_approves_and_deploys_at_once_from_the_command_line(
    app, runtime, tmp_path
):
    answer = propose(app, "owner", one_step("residence_registration"))
    deployment_id = answer.get_json()["deployed"][0]["deployment_id"]
    product = Product(Settings.from_env(instance_path=tmp_path), None, runtime.session_factory,
                      runtime)  # fmt: skip
    runner = CliRunner()
    listed = runner.invoke(main, ["deployments", "list", "--status", "pending", "--json"],
                           obj=product)  # fmt: skip
    assert listed.exit_code == 0 and f'"id": {deployment_id}' in listed.output
    own = runner.invoke(main, ["deployments", "approve", str(deployment_id), "--by", "owner"],
                        obj=product)  # fmt: skip
    assert own.exit_code == 1 and "another person decides" in own.output
    approved = runner.invoke(
        main, ["deployments", "approve", str(deployment_id), "--by", "operator"], obj=product
    )
    assert approved.exit_code == 0 and "approved by operator" in approved.output
    assert runtime.start("residence_registration", application("X-5"), actor="clerk").version == 2

    deployed = runner.invoke(main, ["deploy", str(DIAGRAMS / "exclusive.bpmn")], obj=product)
    assert deployed.exit_code == 0 and deployed.output.strip() == "exclusive v1"
    assert runtime.start("exclusive", {}, actor="admin").version == 1
    assert runtime.deployments()[0].decided_by == "tirkeu deploy"
