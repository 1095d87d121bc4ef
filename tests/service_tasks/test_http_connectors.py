"""The HTTP connectors against a stub registry server on loopback."""

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from service_tasks.errors import BusinessError, KeyReused, TechnicalError
from service_tasks.http import HttpRegistries
from service_tasks.interfaces import Registries
from service_tasks.operators import build_operators

PERSON = {"iin": "850314304175", "surname": "Akhmetov", "birth_date": "1985-03-14"}


@dataclass
class Route:
    status: int = 200
    body: Any = None
    delay: float = 0.0


@dataclass
class StubRegistry:
    """A registry server whose answers a test sets per method and path, recording requests."""

    url: str
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[StubRegistry]:
    """Run a stub registry server on 127.0.0.1 for the test."""
    state = StubRegistry(url="")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(raw) if raw else None,
                }
            )
            route = state.routes.get((self.command, self.path), Route(404))
            time.sleep(route.delay)
            body = route.body
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            if body is None:
                data = b""
            try:
                self.send_response(route.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The client gave up waiting: that is what a timeout test wants.

        do_GET = do_POST = answer

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
def registries(stub: StubRegistry) -> Iterator[Registries]:
    """Return HTTP connectors pointed at the stub, with a short timeout."""
    connectors = HttpRegistries.from_base_url(stub.url, timeout=0.3)
    yield connectors.registries()
    connectors.close()


def test_person_lookup_returns_the_registry_answer(
    stub: StubRegistry, registries: Registries
) -> None:
    stub.routes["GET", "/population/persons/850314304175"] = Route(200, PERSON)
    assert registries.population.person("850314304175") == PERSON
    assert stub.requests[0]["headers"]["Accept"] == "application/json"


def test_error_code_in_a_4xx_answer_is_a_business_error(
    stub: StubRegistry, registries: Registries
) -> None:
    stub.routes["GET", "/realestate/titles/0201300012740054"] = Route(
        422, {"error_code": "title_disputed", "error_message": "Title under court review"}
    )
    with pytest.raises(BusinessError) as caught:
        registries.realestate.title("0201300012740054")
    assert (caught.value.error_code, str(caught.value)) == (
        "title_disputed",
        "Title under court review",
    )


def test_404_of_a_lookup_is_its_not_found_business_error(registries: Registries) -> None:
    with pytest.raises(BusinessError) as person:
        registries.population.person("900701300108")
    with pytest.raises(BusinessError) as premises:
        registries.address.premises("0201300012740054")
    assert person.value.error_code == "person_not_found"
    assert premises.value.error_code == "premises_not_found"


def test_404_of_phone_and_consular_lookups_means_none(registries: Registries) -> None:
    assert registries.mobile.phone("850314304175") == {"iin": "850314304175", "phone": None}
    assert registries.consular.deregistration("850314304175")["deregistered"] is False


def test_a_registry_slower_than_the_timeout_is_a_technical_error(
    stub: StubRegistry, registries: Registries
) -> None:
    stub.routes["GET", "/population/persons/850314304175"] = Route(200, PERSON, delay=1.0)
    started = time.monotonic()
    with pytest.raises(TechnicalError, match="timed out"):
        registries.population.person("850314304175")
    assert time.monotonic() - started < 0.9


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_a_technical_error(stub: StubRegistry, registries: Registries, status: int) -> None:
    stub.routes["POST", "/registration/registrations"] = Route(status, {"error_code": "x"})
    with pytest.raises(TechnicalError, match=f"HTTP {status}"):
        registries.registration.register(
            "A-0100:Task_Register", "A-0100", "850314304175", "0201300012740054", "permanent", None
        )


@pytest.mark.parametrize(
    "body",
    [b"<html>gateway</html>", [1, 2], {"surname": "Akhmetov"}],
    ids=["html", "list", "partial"],
)
def test_an_unusable_answer_is_a_technical_error(
    stub: StubRegistry, registries: Registries, body: Any
) -> None:
    stub.routes["GET", "/population/persons/850314304175"] = Route(200, body)
    with pytest.raises(TechnicalError):
        registries.population.person("850314304175")


def test_4xx_without_an_error_code_is_a_technical_error(
    stub: StubRegistry, registries: Registries
) -> None:
    stub.routes["POST", "/idcard/address-rewrites"] = Route(400, {"detail": "bad request"})
    with pytest.raises(TechnicalError, match="HTTP 400"):
        registries.idcard.rewrite_address(
            "A-0100:Task_RewriteIdCard", "A-0100", "850314304175", "0201300012740054"
        )


def test_an_unreachable_registry_is_a_technical_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connectors = HttpRegistries.from_base_url(f"http://127.0.0.1:{port}", timeout=0.3)
    try:
        with pytest.raises(TechnicalError, match="failed"):
            connectors.registries().population.person("850314304175")
    finally:
        connectors.close()


def test_writes_send_their_idempotency_key_and_a_refused_key_is_key_reused(
    stub: StubRegistry, registries: Registries
) -> None:
    stub.routes["POST", "/registration/registrations"] = Route(
        200, {"registration_id": "RP-7", "created": False, "closed_arc": "0202500015000034"}
    )
    stub.routes["POST", "/notify/notices"] = Route(200, {"delivery_id": "N-1"})
    point = registries.registration
    result = point.register(
        "A-0100:Task_Register", "A-0100", "850314304175", "0201300012740054", "temporary", 6
    )
    assert result == {
        "registration_id": "RP-7",
        "created": False,
        "closed_arc": "0202500015000034",
    }
    registries.notify.send(
        "A-0100:Task_NotifyApplicant", "A-0100", "850314304175", "sms", "registered", {"n": 1}
    )
    register, notice = stub.requests
    assert register["headers"]["Idempotency-Key"] == "A-0100:Task_Register"
    assert register["body"] == {
        "application_number": "A-0100",
        "iin": "850314304175",
        "arc": "0201300012740054",
        "registration_type": "temporary",
        "period_months": 6,
    }
    assert notice["headers"]["Idempotency-Key"] == "A-0100:Task_NotifyApplicant"
    stub.routes["POST", "/registration/registrations"] = Route(409, {"error_message": "other"})
    with pytest.raises(KeyReused, match="A-0100:Task_Register"):
        point.register(
            "A-0100:Task_Register", "A-0100", "600520302564", "0201300012740054", "temporary", 6
        )


def test_http_mode_operators_call_the_configured_base_url(stub: StubRegistry) -> None:
    stub.routes["GET", "/population/persons/850314304175"] = Route(200, PERSON)
    operators = build_operators(
        {"registry_mode": "http", "registry_base_url": stub.url, "registry_timeout": "0.5"}
    )
    assert operators["population.person"](iin="850314304175") == PERSON
    with pytest.raises(BusinessError):
        operators["population.person"](iin="880517401807")
    assert len(stub.requests) == 1


def test_a_registry_may_have_its_own_base_url(stub: StubRegistry) -> None:
    stub.routes["GET", "/gbdfl/v2/persons/850314304175"] = Route(200, PERSON)
    connectors = HttpRegistries.from_base_url(
        "http://127.0.0.1:9", timeout=0.3, overrides={"population": f"{stub.url}/gbdfl/v2"}
    )
    try:
        assert connectors.registries().population.person("850314304175") == PERSON
    finally:
        connectors.close()
