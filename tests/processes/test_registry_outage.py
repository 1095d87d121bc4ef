"""A registration whose registration point is down at first: incident, retry, one registration.

The registries are reached over HTTP, as in production, at a stub server on loopback that
answers the connectors' REST shape from the sandbox registries (so a repeated write is answered
as the first one was) and can fail a path's first calls.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from service_tasks.operators import build_operators
from service_tasks.rest import answer
from service_tasks.sandbox import SandboxStore
from tests.processes.driver import SETTINGS, ProcessDriver, deploy_registration
from webapp.bootstrap import product_runtime
from webapp.db.base import utcnow
from webapp.db.session import make_session_factory
from webapp.signing import DemoSigner

ADULT = "850314304175"
ARC_ADULTS_HOUSE = "0201000000000002"
REGISTRATIONS = "/registration/registrations"
CLIENT_TIMEOUT = 1.5  # generous: a loaded CI machine must not time out the healthy calls
APPLICATION = {
    "application_number": "A-0100",
    "channel": "online",
    "registration_type": "permanent",
    "applicant_iin": ADULT,
    "applicant_type": "self",
    "person_iin": ADULT,
    "arc": ARC_ADULTS_HOUSE,
    "arrived_from_abroad": False,
    "application_date": "2026-11-27",
}


@dataclass
class Fault:
    """How a path fails its first `times` calls: an HTTP status, or a late answer."""

    times: int
    status: int = 503
    delay: float = 0.0


@dataclass
class StubRegistries:
    """The national registries on loopback; records every request and its answer's status."""

    url: str
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def seen(self, method: str, path: str) -> list[dict[str, Any]]:
        """Return the requests made to one path."""
        return [r for r in self.requests if (r["method"], r["path"]) == (method, path)]


@pytest.fixture
def stub(store: SandboxStore) -> Iterator[StubRegistries]:
    """Run the stub registries on 127.0.0.1 for the test."""
    state = StubRegistries(url="")
    registries = store.registries()

    class Handler(BaseHTTPRequestHandler):
        def handle_request(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            key = (self.command, self.path)
            fault = state.faults.get(key)
            if fault and fault.times and not fault.delay:
                fault.times -= 1
                status, result = fault.status, {}
            else:
                key_header = self.headers.get("Idempotency-Key")
                status, result = answer(registries, self.command, self.path, body, key_header)
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                    "status": status,
                    "result": result,
                }
            )
            if fault and fault.times and fault.delay:
                # Made, but answered after the client gave up: the answer is lost.
                fault.times -= 1
                time.sleep(fault.delay)
            data = json.dumps(result).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The client timed out: that is what the fault is for.

        do_GET = do_POST = handle_request

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def http_process(
    engine, store: SandboxStore, stub: StubRegistries, signer: DemoSigner
) -> ProcessDriver:
    """An application's driver over a runtime that reaches the registries over HTTP."""
    settings = {
        "registry_mode": "http",
        "registry_base_url": stub.url,
        "registry_timeout": CLIENT_TIMEOUT,
    }
    runtime = product_runtime(
        make_session_factory(engine),
        build_operators(settings),
        SETTINGS,
        lambda: [signer.ca.certificate_pem()],
    )
    deploy_registration(runtime)
    return ProcessDriver(runtime, store, signer)


@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"delay": CLIENT_TIMEOUT * 2}],
    ids=["unavailable", "timeout"],
)
def test_registration_point_outage_opens_an_incident_and_the_retry_registers_once(
    http_process: ProcessDriver, stub: StubRegistries, fault: dict
):
    stub.faults["POST", REGISTRATIONS] = Fault(times=1, **fault)
    failed = http_process.start(APPLICATION)
    assert failed.status == "error"
    [incident] = http_process.instance().incidents
    assert (incident.bpmn_id, incident.status) == ("Task_Register", "open")
    assert "registration registry: POST registrations" in incident.message
    assert http_process.events("incident_opened", "Task_Register")

    # The first retry is due after the runtime's backoff (10 seconds).
    assert http_process.runtime.run_due_jobs(now=utcnow() + timedelta(seconds=5)) == 0
    done = http_process.run_jobs(timedelta(seconds=11))

    assert done.status == "completed"
    assert done.data["outcome"] == "registered"
    assert [i.status for i in done.incidents] == ["resolved"]
    assert [e.bpmn_id for e in http_process.events("retry")] == ["Task_Register"]
    assert len(http_process.events("instance_completed")) == 1
    calls = stub.seen("POST", REGISTRATIONS)
    assert [c["idempotency_key"] for c in calls] == ["A-0100:Task_Register"] * 2
    made = [c for c in calls if c["status"] == 200 and c["result"]["created"]]
    assert len(made) == 1
    [registered] = http_process.store.writes("register", "A-0100")
    assert done.data["registration_id"] == registered["result"]["registration_id"]
    assert done.data["registration_id"] == calls[-1]["result"]["registration_id"]
    assert len(stub.seen("POST", "/idcard/address-rewrites")) == 1
