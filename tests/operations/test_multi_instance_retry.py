"""A failed instance of a multi-instance service task opens its incident and is retried."""

from datetime import timedelta
from functools import wraps

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.processes.driver import SETTINGS, deploy_registration
from webapp.bootstrap import product_runtime
from webapp.db.base import utcnow
from webapp.db.session import make_session_factory
from webapp.runtime.engine import Runtime
from webapp.signing import DemoSigner

APPLICATION = {
    "application_number": "A-0700", "channel": "online", "registration_type": "permanent",
    "applicant_iin": "850314304175", "applicant_type": "self", "person_iin": "850314304175",
    "arc": "0201100045810023", "arrived_from_abroad": False, "application_date": "2026-11-27",
}  # fmt: skip
CONSENT = {"consent_given": True}
SIGNER = DemoSigner()


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def signing_runtime(engine, operators) -> Runtime:
    """Return the registration process's runtime, trusting the test signer's CA."""
    runtime = product_runtime(
        make_session_factory(engine), operators, SETTINGS, lambda: [SIGNER.ca.certificate_pem()]
    )
    deploy_registration(runtime)
    return runtime


def signed_application(runtime: Runtime) -> dict:
    """Return the online application signed by its applicant."""
    return SIGNER.signed(APPLICATION, runtime.start_signing("residence_registration", APPLICATION))


def test_an_owner_notice_that_times_out_is_retried_and_the_application_completes(
    ops_engine, tmp_path
):
    registry_url = f"sqlite:///{tmp_path / 'registries.db'}"
    store = SandboxStore(registry_url)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    operators = build_operators({"registry_mode": "sandbox", "registry_url": registry_url})
    send, failures = operators["notify.send"], {"left": 1}

    # Wrapped, so that the runtime sees the operator's signature and gives the write its key.
    @wraps(send)
    def flaky_send(**params):
        if params.get("template") == "registration_completed_owner" and failures["left"]:
            failures["left"] -= 1
            raise TimeoutError("the notification service did not answer")
        return send(**params)

    operators["notify.send"] = flaky_send
    runtime = signing_runtime(ops_engine, operators)
    view = runtime.start("residence_registration", signed_application(runtime))
    for task in view.ready_tasks:
        answer = SIGNER.signed(CONSENT, runtime.task_signing(task.id, CONSENT))
        view = runtime.complete(task.id, answer, actor=task.assignee)
    [incident] = runtime.instance(view.id).incidents
    assert view.status == "error"
    assert (incident.bpmn_id, incident.status) == ("Task_NotifyOwners", "open")
    assert runtime.run_due_jobs(now=utcnow() + timedelta(seconds=11)) == 1
    done = runtime.instance(view.id)
    assert (done.status, done.data["outcome"]) == ("completed", "registered")
    assert [i.status for i in done.incidents] == ["resolved"]
    assert len(store.writes("register", "A-0700")) == 1
    store.dispose()


def test_a_retry_due_after_the_consent_window_closed_leaves_the_cancellation_alone(
    ops_engine, tmp_path
):
    registry_url = f"sqlite:///{tmp_path / 'registries.db'}"
    store = SandboxStore(registry_url)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    operators = build_operators({"registry_mode": "sandbox", "registry_url": registry_url})
    send, failures = operators["notify.send"], {"left": 2}

    # Wrapped, so that the runtime sees the operator's signature and gives the write its key.
    @wraps(send)
    def flaky_send(**params):
        if params.get("template") == "consent_request" and failures["left"]:
            failures["left"] -= 1
            raise TimeoutError("the SMS gateway did not answer")
        return send(**params)

    operators["notify.send"] = flaky_send
    runtime = signing_runtime(ops_engine, operators)
    view = runtime.start("residence_registration", signed_application(runtime))
    assert view.status == "error"
    window_closed = utcnow() + timedelta(hours=1, seconds=1)
    # The retry due first fails again; the consent window's timer then cancels the consents.
    runtime.run_due_jobs(now=window_closed)
    runtime.run_due_jobs(now=window_closed + timedelta(minutes=1))
    done = runtime.instance(view.id)
    assert (done.status, done.data["outcome"]) == ("completed", "cancelled")
    assert done.data["refusal_reason"] == "consent_timeout"
    assert all(i.status == "resolved" for i in done.incidents)
    assert runtime.run_due_jobs(now=window_closed + timedelta(hours=1)) == 0
    store.dispose()
