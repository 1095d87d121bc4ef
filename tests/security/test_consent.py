"""Consent is a signed act of the owner it is assigned to, and tasks are given only to staff.

Each test replays an attack of the report: a consent completed without a signature through the
API, the task form or the command line; evidence made for another document or by another
person; an applicant's page showing stale answers; a task reassigned to an applicant or to a
name that does not exist. They run on SQLite and PostgreSQL with the whole product built as the
composition roots build it (`build`), its signatures verified under a test CA.
"""

import json
import re
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import registration_product
from tests.online.conftest import COOWNED_ARC, GULNARA, KAIRAT
from tests.web.conftest import APPLICANT_IIN, application
from webapp.accounts import create_user, find_user, issue_token
from webapp.cli import main
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance, InstanceEvent
from webapp.runtime.errors import Forbidden
from webapp.runtime.signatures import Rendered
from webapp.signing import DemoSigner, SigningError, request_code, verify_code
from webapp.web import create_app

PROCESS = "residence_registration"
PASSWORD = "correct horse battery"
PEOPLE = (
    ("applicant", ["applicant"], APPLICANT_IIN),
    ("gulnara", ["applicant"], GULNARA),
    ("kairat", ["applicant"], KAIRAT),
    ("clerk", ["clerk"], None),
    ("clerk2", ["clerk"], None),
    ("retired", ["clerk"], None),
    ("supervisor", ["supervisor"], None),
)


@pytest.fixture(scope="module")
def signer() -> DemoSigner:
    return DemoSigner()


@pytest.fixture
def product(database_url, tmp_path, signer):
    """The product on this test's database, trusting the test CA, with the demo people."""
    signer.ca.save(tmp_path / "pki")
    product = registration_product(tmp_path, database_url, "security test secret")
    with product.session_factory.begin() as session:
        for username, roles, iin in PEOPLE:
            create_user(session, username, PASSWORD, roles, iin=iin)
        find_user(session, "retired").active = False
    yield product
    product.engine.dispose()


@pytest.fixture
def app(product):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "security test secret",
            "DATABASE_URL": product.settings.database_url,
            "RUNTIME": product.runtime,
            "SESSION_FACTORY": product.session_factory,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


@pytest.fixture
def api(app, product):
    """Return a function calling the API as a user, with a bearer token."""
    with product.session_factory.begin() as session:
        tokens = {name: issue_token(session, name) for name, _roles, _iin in PEOPLE}

    def call(user: str, path: str, body: dict):
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        return app.test_client().post(path, json=body, headers=headers)

    return call


def signed_in(app, username: str):
    """Return a client signed in as the user."""
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 302
    return client


@pytest.fixture
def consents(product, signer) -> dict[str, str]:
    """Start a signed online application at the co-owned flat; return its consent task ids."""
    runtime = product.runtime
    data = application("A-0900", channel="online", arc=COOWNED_ARC)
    view = runtime.start(PROCESS, signer.signed(data, runtime.start_signing(PROCESS, data)))
    tasks = {task.assignee: task.id for task in view.ready_tasks}
    assert tasks.keys() == {GULNARA, KAIRAT}
    return tasks


def snapshot(product, instance_id: int) -> tuple:
    """Return what a refused act must leave as it was: state, open tasks and events."""
    with product.session_factory() as session:
        instance = session.get(Instance, instance_id)
        open_tasks = session.scalars(
            select(HumanTask.id).where(
                HumanTask.instance_id == instance_id, HumanTask.state == "ready"
            )
        ).all()
        events = session.scalar(
            select(func.count()).where(InstanceEvent.instance_id == instance_id)
        )
        return instance.lock_version, instance.state, sorted(open_tasks), events


def instance_of(product, task_id: str) -> int:
    return product.runtime.task(task_id).instance_id


def naming_signer(signing, iin: str) -> Rendered:
    """Return the signing's document with another person named as its signer."""
    content = signing.rendered.content.replace(signing.signer.encode(), iin.encode())
    return replace(signing.rendered, content=content)


def signed_answer(product, signer, task_id: str, given: bool, iin: str, answer=None) -> dict:
    """Return the form data of an owner's answer signed by `iin` over the document of `answer`.

    `answer` is what the signature was made for; it is the submitted answer unless given.
    """
    submitted = {"consent_given": given}
    signing = product.runtime.task_signing(task_id, answer or submitted)
    evidence = signer.evidence(signing.rendered, iin)
    return {**submitted, "signature": json.dumps(evidence)}


@pytest.mark.parametrize(
    "data",
    [
        {"consent_given": True, "signature_method": "eds"},
        {"consent_given": True},
        {"consent_given": True, "signature": "made up"},
        {"consent_given": True, "signature": json.dumps({"method": "eds", "signature": "AAAA"})},
        {
            "consent_given": True,
            "signature": json.dumps({"method": "sms_code", "challenge_id": "x"}),
        },
    ],
)
def test_owner_completing_her_consent_through_the_api_without_evidence_is_refused(
    product, api, consents, data
):
    task_id = consents[GULNARA]
    before = snapshot(product, instance_of(product, task_id))
    answer = api("gulnara", f"/api/v1/tasks/{task_id}/complete", {"data": data})
    assert answer.status_code == 422, answer.get_json()
    assert snapshot(product, instance_of(product, task_id)) == before


def test_supervisor_cannot_complete_or_claim_an_owners_consent(product, app, signer, consents):
    task_id = consents[KAIRAT]
    before = snapshot(product, instance_of(product, task_id))
    supervisor = signed_in(app, "supervisor")
    assert supervisor.get(f"/tasks/{task_id}").status_code == 200
    made_up = {"consent_given": "true", "signature": "signed by the owner"}
    assert supervisor.post(f"/tasks/{task_id}/complete", data=made_up).status_code == 403
    genuine = signed_answer(product, signer, task_id, True, KAIRAT)
    genuine["consent_given"] = "true"
    assert supervisor.post(f"/tasks/{task_id}/complete", data=genuine).status_code == 403
    assert supervisor.post(f"/tasks/{task_id}/claim").status_code == 403
    # The runtime's step refuses them too, whichever page or program asks it.
    genuine["consent_given"] = True
    with pytest.raises(Forbidden):
        product.runtime.complete(task_id, genuine, actor="supervisor")
    with pytest.raises(Forbidden):
        product.runtime.claim(task_id, "supervisor")
    assert snapshot(product, instance_of(product, task_id)) == before


def test_another_owner_cannot_answer_a_consent_even_with_her_own_signature(
    product, api, signer, consents
):
    task_id = consents[KAIRAT]
    before = snapshot(product, instance_of(product, task_id))
    data = signed_answer(product, signer, task_id, True, GULNARA)
    answer = api("gulnara", f"/api/v1/tasks/{task_id}/complete", {"data": data})
    assert answer.status_code == 403
    assert snapshot(product, instance_of(product, task_id)) == before


def test_evidence_for_another_document_or_another_signer_is_refused(product, api, signer, consents):
    task_id, other_task = consents[GULNARA], consents[KAIRAT]
    before = snapshot(product, instance_of(product, task_id))
    refusal_signed_as_consent = signed_answer(
        product, signer, task_id, True, GULNARA, answer={"consent_given": False}
    )
    signing = product.runtime.task_signing(other_task, {"consent_given": True})
    other_task_document = {
        "consent_given": True,
        "signature": json.dumps(signer.evidence(naming_signer(signing, GULNARA), GULNARA)),
    }
    signed_by_kairat = signed_answer(product, signer, task_id, True, KAIRAT)
    untrusted = {
        "consent_given": True,
        "signature": json.dumps(
            DemoSigner().evidence(product.runtime.task_signing(task_id, {"consent_given": True})
                                  .rendered, GULNARA)
        ),
    }  # fmt: skip
    refusals = {}
    for name, data in {
        "refusal_signed_as_consent": refusal_signed_as_consent,
        "other_task_document": other_task_document,
        "signed_by_kairat": signed_by_kairat,
        "untrusted": untrusted,
    }.items():
        answer = api("gulnara", f"/api/v1/tasks/{task_id}/complete", {"data": data})
        refusals[name] = (answer.status_code, answer.get_json()["error"])
    assert refusals == {
        "refusal_signed_as_consent": (422, "document_mismatch"),
        "other_task_document": (422, "document_mismatch"),
        "signed_by_kairat": (422, "certificate_of_another_person"),
        "untrusted": (422, "certificate_untrusted"),
    }
    assert snapshot(product, instance_of(product, task_id)) == before


def test_command_line_cannot_record_a_consent_without_evidence(product, consents):
    task_id = consents[GULNARA]
    before = snapshot(product, instance_of(product, task_id))
    data = json.dumps({"consent_given": True, "signature": "otp-4711"})
    result = CliRunner().invoke(main, ["complete", task_id, "--data", data], obj=product)
    assert result.exit_code != 0 and "not signature evidence" in result.output
    assert snapshot(product, instance_of(product, task_id)) == before


def test_the_owner_answers_with_evidence_and_the_applicant_sees_each_owners_real_state(
    product, app, api, signer, consents
):
    gulnara_task, kairat_task = consents[GULNARA], consents[KAIRAT]
    instance_id = instance_of(product, gulnara_task)
    data = signed_answer(product, signer, gulnara_task, True, GULNARA)
    assert (
        api("gulnara", f"/api/v1/tasks/{gulnara_task}/complete", {"data": data}).status_code == 200
    )
    page = signed_in(app, "applicant").get(f"/portal/applications/{instance_id}").text
    answers = page[page.index('id="owner-answers"') : page.index('id="history"')]
    assert answers.count("Consented") == 1 and answers.count("Waiting for an answer") == 1
    assert "EDS" in answers
    data = signed_answer(product, signer, kairat_task, False, KAIRAT)
    assert api("kairat", f"/api/v1/tasks/{kairat_task}/complete", {"data": data}).status_code == 200
    page = signed_in(app, "applicant").get(f"/portal/applications/{instance_id}").text
    answers = page[page.index('id="owner-answers"') : page.index('id="history"')]
    assert "Consented" in answers and "Refused" in answers and "Waiting" not in answers
    view = product.runtime.instance(instance_id)
    assert view.data["refusal_reason"] == "owner_refused"
    [kept] = [
        e.data["signature"]
        for e in view.events
        if e.kind == "task_completed" and e.task_id == kairat_task
    ]
    assert (kept["method"], kept["signer_iin"]) == ("eds", KAIRAT)


def test_online_start_needs_the_applicants_own_signature(product, api, signer):
    data = application("A-0901", channel="online", arc=COOWNED_ARC)
    signing = product.runtime.start_signing(PROCESS, data)
    attempts = {
        "unsigned": data,
        "made_up": {**data, "application_signature": {"method": "eds", "signer_iin": GULNARA}},
        "another_person": {
            **data,
            "application_signature": signer.evidence(naming_signer(signing, GULNARA), GULNARA),
        },
    }
    for name, attempt in attempts.items():
        answer = api("clerk", "/api/v1/instances", {"process_id": PROCESS, "data": attempt})
        assert answer.status_code == 422, name
    with product.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    signed = signer.signed(data, signing)
    answer = api("clerk", "/api/v1/instances", {"process_id": PROCESS, "data": signed})
    assert answer.status_code == 201
    assert answer.get_json()["data"]["application_signature"]["signer_iin"] == APPLICANT_IIN


def test_a_task_is_reassigned_only_to_an_active_staff_user_of_its_role(product, app, consents):
    runtime = product.runtime
    [check] = runtime.start(PROCESS, application("A-0902")).ready_tasks
    supervisor = signed_in(app, "supervisor")
    for user in ("applicant", "gulnara", "nobody", "retired", "supervisor"):
        answer = supervisor.post(f"/tasks/{check.id}/reassign", data={"user": user})
        assert answer.status_code == 422, user
        assert runtime.task(check.id).claimed_by is None
    assert (
        "no such user"
        in supervisor.post(f"/tasks/{check.id}/reassign", data={"user": "nobody"}).text
    )
    answer = supervisor.post(f"/tasks/{check.id}/reassign", data={"user": "clerk2"})
    assert answer.status_code == 303 and runtime.task(check.id).claimed_by == "clerk2"
    consent = consents[GULNARA]
    answer = supervisor.post(f"/tasks/{consent}/reassign", data={"user": "clerk2"})
    assert answer.status_code == 403
    assert runtime.task(consent).claimed_by is None


def test_a_one_time_code_signs_one_act_only(product):
    runtime = product.runtime
    data = application("A-0903", channel="online", arc=COOWNED_ARC)
    signing = runtime.start_signing(PROCESS, data)
    sent = []
    with product.session_factory() as session:
        challenge = request_code(
            session, signer_iin=APPLICANT_IIN, content=signing.rendered.content,
            phone="+77010000000",
            send=lambda _phone, text: sent.append(text), now=utcnow(),
        )  # fmt: skip
        code = re.search(r"(\d{6}) is your code", sent[0]).group(1)
        evidence = verify_code(
            session, challenge_id=challenge.challenge_id, signer_iin=APPLICANT_IIN,
            content=signing.rendered.content, code=code, now=utcnow(),
        )  # fmt: skip
    signed = {**data, signing.field: evidence.to_dict()}
    view = runtime.start(PROCESS, signed)
    assert view.data[signing.field]["method"] == "sms_code"
    with pytest.raises(SigningError) as replayed:
        runtime.start(PROCESS, signed)
    assert replayed.value.reason == "code_already_used"
    with product.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 1
