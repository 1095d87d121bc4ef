"""Registry writes happen once and never leave a person unregistered.

Finding 6: a second start with a taken application number was answered by the registries with
the first person's registration. Finding 7: a process killed between a registry write and its
commit left the person with the old registration closed and no new one.
"""

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.errors import KeyReused
from service_tasks.rest import answer
from service_tasks.sandbox import SandboxStore
from tests.web.conftest import (  # noqa: F401  (fixtures the API test uses)
    app,
    client,
    instance_folder,
    runtime,
    sessions,
    signer,
    template_folder,
    token_for,
    users,
)
from webapp.cli import main
from webapp.db.models import Deployment, Instance, ProcessVersion
from webapp.db.session import alembic_config, make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
PERSON = "850314304175"
OLD_HOME = "0202500015000034"
OWN_FLAT = "0201300012740054"
NUMBER = "A-0100"
APPLICATION = {
    "application_number": NUMBER,
    "channel": "service_centre",
    "registration_type": "permanent",
    "applicant_iin": PERSON,
    "applicant_type": "self",
    "person_iin": PERSON,
    "arc": OWN_FLAT,
    "arrived_from_abroad": False,
    # Before the online-first rule (1 November 2025) sent adults of full capacity online.
    "application_date": "2025-10-31",
}
# The adult registers himself at his own flat: the identity check is the one that applies.
ACCEPTED = {"identity_document_checked": True, "check_result": "accepted"}
REFUSED = {"check_result": "document_invalid"}
# The registry writes the clerk's acceptance makes, in the order the diagram makes them.
WRITES = {
    "register": "/registration/registrations",
    "idcard": "/idcard/address-rewrites",
    "notify": "/notify/notices",
}


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment of a product with its own database and sandbox registries, initialised."""
    variables = {
        "TIRKEU_INSTANCE_PATH": str(tmp_path),
        "TIRKEU_DATABASE_URL": database_url,
        "TIRKEU_REGISTRY_URL": f"sqlite:///{tmp_path / 'registries.db'}",
    }
    result = CliRunner().invoke(main, ["init"], env=variables)
    assert result.exit_code == 0, result.output
    return variables


def tirkeu(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    """Run a command in-process; return its exit code, its JSON output and its errors."""
    result = CliRunner().invoke(main, [*args, "--json"], env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, json.loads(result.stdout) if result.stdout else None, result.stderr


def instance_count(database_url: str) -> int:
    """Count the instances in a product's database."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Instance))
    engine.dispose()
    return count


# Finding 6: an application number names one application.


def test_a_second_start_with_a_taken_number_exits_2_and_creates_nothing(env, database_url):
    code, first, _ = tirkeu(
        env, "start", "residence_registration", "--data", json.dumps(APPLICATION)
    )
    assert code == 0 and first["data"]["application_number"] == NUMBER
    other = {**APPLICATION, "person_iin": "600520302564", "applicant_iin": "600520302564"}
    code, out, err = tirkeu(env, "start", "residence_registration", "--data", json.dumps(other))
    assert code == 2 and out is None
    refusal = json.loads(err)
    assert refusal["error"] == "business_key_taken"
    assert set(refusal["errors"]) == {"application_number"}
    assert instance_count(database_url) == 1


def test_a_number_of_the_runtimes_own_form_cannot_be_given(env, database_url):
    taken_later = {**APPLICATION, "application_number": "A-000002"}
    code, _, err = tirkeu(env, "start", "residence_registration", "--data", json.dumps(taken_later))
    assert code == 2 and set(json.loads(err)["errors"]) == {"application_number"}
    assert instance_count(database_url) == 0


def test_the_api_refuses_a_taken_number_with_409_and_the_field(
    client,  # noqa: F811
    token_for,  # noqa: F811
    runtime,  # noqa: F811
):
    headers = {"Authorization": f"Bearer {token_for('clerk')}"}
    body = {"process_id": "residence_registration", "data": APPLICATION}
    assert client.post("/api/v1/instances", json=body, headers=headers).status_code == 201
    refused = client.post("/api/v1/instances", json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json["error"] == "business_key_taken"
    assert set(refused.json["errors"]) == {"application_number"}
    assert len(runtime.ready_tasks()) == 1


def test_the_migration_renames_later_holders_of_a_shared_number(empty_database_url):
    engine = make_engine(empty_database_url)
    command.upgrade(alembic_config(engine), "0008")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(insert(Deployment).values(id=1, content_hash="x", created_at=now))
        connection.execute(
            insert(ProcessVersion).values(
                id=1, process_id="p", version=1, deployment_id=1, bpmn_file="p.bpmn", spec="",
                message_starts=[], created_at=now,
            )
        )  # fmt: skip
        for instance_id in (1, 2, 3):
            connection.execute(
                insert(Instance).values(
                    id=instance_id, process_version_id=1, process_id="p", business_key=NUMBER,
                    status="completed", state=b"", serializer_version="1", lock_version=1,
                    summary={}, created_at=now, updated_at=now,
                )
            )  # fmt: skip
    upgrade(engine)
    with engine.connect() as connection:
        keys = connection.execute(select(Instance.id, Instance.business_key).order_by(Instance.id))
        assert keys.all() == [(1, NUMBER), (2, f"{NUMBER}~2"), (3, f"{NUMBER}~3")]
    engine.dispose()


# A replayed idempotency key with other content is refused by the registry.


def test_a_replayed_key_with_other_content_is_refused_and_writes_nothing(tmp_path):
    store = SandboxStore(f"sqlite:///{tmp_path / 'registries.db'}")
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    point = store.registries().registration
    key = f"{NUMBER}:Task_Register"
    first = point.register(key, NUMBER, PERSON, OWN_FLAT, "permanent", None)
    assert point.register(key, NUMBER, PERSON, OWN_FLAT, "permanent", None) == {
        **first,
        "created": False,
    }
    with pytest.raises(KeyReused):
        point.register(key, NUMBER, "600520302564", OWN_FLAT, "permanent", None)
    body = {
        "application_number": NUMBER,
        "iin": PERSON,
        "arc": OLD_HOME,
        "registration_type": "permanent",
        "period_months": None,
    }
    status, _ = answer(store.registries(), "POST", "/registration/registrations", body, key)
    assert status == 409
    status, _ = answer(store.registries(), "POST", "/registration/registrations", body, None)
    assert status == 400
    assert len(store.writes("register")) == 1
    assert store.registries().population.person(PERSON)["registration"]["arc"] == OWN_FLAT
    store.dispose()


# Finding 7: kill -9 at each registry write.


class StallingRegistries:
    """The registries over HTTP; while `stall` names a path, a write to it is held.

    With `write_first` the write is done in the registry and its answer never sent; without,
    the registry is slow and has not written yet. The caller is killed meanwhile.
    """

    def __init__(self, store: SandboxStore) -> None:
        self.registries = store.registries()
        self.stall: str | None = None
        self.write_first = True
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls: list[tuple[str, str | None, int]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def handle_request(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                key = self.headers.get("Idempotency-Key")
                if self.path == stub.stall and not stub.write_first:
                    stub.reached.set()
                    stub.release.wait(60)
                    return
                status, result = answer(stub.registries, self.command, self.path, body, key)
                stub.calls.append((self.path, key, status))
                if self.path == stub.stall:
                    stub.reached.set()
                    stub.release.wait(60)
                    return
                data = json.dumps(result).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_request

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Let a held request go and stop serving."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registries(env: dict[str, str]) -> Iterator[tuple[StallingRegistries, SandboxStore]]:
    """The product's sandbox registries served over HTTP by a stalling stub."""
    store = SandboxStore(env["TIRKEU_REGISTRY_URL"])
    stub = StallingRegistries(store)
    yield stub, store
    stub.close()
    store.dispose()


def http_env(env: dict[str, str], stub: StallingRegistries) -> dict[str, str]:
    """The environment of a command that reaches the registries over HTTP at the stub."""
    return {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "TIRKEU_REGISTRY_MODE": "http",
        "TIRKEU_REGISTRY_BASE_URL": stub.url,
        "TIRKEU_REGISTRY_TIMEOUT": "60",
    }


def complete(env: dict[str, str], task_id: str, data: dict) -> subprocess.Popen:
    """Start `tirkeu complete` as a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", "from webapp.cli import main; main()", "complete", task_id,
         "--data", json.dumps(data), "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def kill_during(stub: StallingRegistries, path: str, process: subprocess.Popen) -> None:
    """SIGKILL the process once the registry has made its write to path."""
    try:
        assert stub.reached.wait(90), process.communicate(timeout=5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    stub.stall = None
    stub.release.set()


def started_check(env: dict[str, str]) -> tuple[int, str]:
    """Start the application; return its instance and the clerk's document check task."""
    code, started, err = tirkeu(
        env, "start", "residence_registration", "--data", json.dumps(APPLICATION)
    )
    assert code == 0, err
    (task,) = started["ready_tasks"]
    assert task["bpmn_id"] == "Task_CheckDocuments"
    return started["id"], task["id"]


def assert_registered_once(store: SandboxStore, instance: dict) -> None:
    """Assert the invariants: one write per key, and the person holds what the instance says."""
    keys = [(w["operation"], w["result"]) for w in store.writes(application_number=NUMBER)]
    assert len(keys) == len(set(map(str, keys)))
    (registered,) = store.writes("register", NUMBER)
    person = store.registries().population.person(PERSON)
    assert person["registration"]["arc"] == OWN_FLAT
    assert instance["status"] == "completed" and instance["data"]["outcome"] == "registered"
    assert instance["data"]["registration_id"] == registered["result"]["registration_id"]
    assert instance["data"]["registration"]["closed_arc"] == OLD_HOME


@pytest.mark.parametrize("write", list(WRITES))
def test_kill_9_at_a_registry_write_then_the_clerks_retry_registers_once(env, registries, write):
    stub, store = registries
    instance_id, task_id = started_check(env)
    stub.stall = WRITES[write]
    kill_during(stub, WRITES[write], complete(http_env(env, stub), task_id, ACCEPTED))

    # The registry wrote; Tirkeu rolled back to the clerk's check. No one is unregistered.
    assert store.registries().population.person(PERSON)["registration"]["arc"] == OWN_FLAT
    code, shown, _ = tirkeu(env, "show", str(instance_id))
    assert [t["id"] for t in shown["ready_tasks"]] == [task_id]

    retried = complete(http_env(env, stub), task_id, ACCEPTED)
    out, err = retried.communicate(timeout=120)
    assert retried.returncode == 0, err
    assert_registered_once(store, json.loads(out))
    replays = [key for path, key, _ in stub.calls if path == WRITES["register"]]
    assert replays == [f"{NUMBER}:Task_Register"] * 2


@pytest.mark.parametrize("written", [False, True], ids=["slow-registry", "answer-lost"])
def test_kill_9_at_the_registration_then_a_refusal_leaves_the_person_registered(
    env, registries, written
):
    stub, store = registries
    _, task_id = started_check(env)
    stub.stall, stub.write_first = WRITES["register"], written
    kill_during(stub, WRITES["register"], complete(http_env(env, stub), task_id, ACCEPTED))

    code, refused, err = tirkeu(env, "complete", task_id, "--data", json.dumps(REFUSED))
    assert code == 0, err
    assert refused["data"]["outcome"] == "refused"
    # The old registration is closed only by the write that makes the new one: the person
    # holds the old address if the registry had not written, the new one if it had.
    person = store.registries().population.person(PERSON)
    assert person["registration"] is not None
    assert person["registration"]["arc"] == (OWN_FLAT if written else OLD_HOME)
    assert len(store.writes("register", NUMBER)) == int(written)
