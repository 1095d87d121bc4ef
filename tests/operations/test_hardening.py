"""Hardening: rate limits, personal data masked in logs, security headers."""

import logging
import threading

import pytest

from tests.operations.conftest import PASSWORD, csrf_of
from webapp.logmask import install, mask
from webapp.web import create_app, limits


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def limited_app(ops_app, ops_runtime):
    """The same app with rate limits on, small enough to reach in a test."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": ops_runtime,
            "SESSION_FACTORY": ops_runtime.session_factory,
            "RATELIMIT_SIGNIN": "3 per minute",
            "RATELIMIT_API": "5 per minute",
        }
    )


def test_sign_in_is_refused_with_429_after_the_limit(limited_app):
    client = limited_app.test_client()
    token = csrf_of(client)
    answers = [
        client.post("/login", data={"username": "x", "password": "y", "csrf_token": token})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    assert client.get("/login").status_code == 200


def test_api_calls_are_limited_per_token_with_a_json_answer(limited_app, ops_runtime):
    from webapp.accounts import issue_token

    with ops_runtime.session_factory.begin() as session:
        first, second = issue_token(session, "clerk"), issue_token(session, "clerk")
    client = limited_app.test_client()
    codes = [
        client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {first}"}).status_code
        for _ in range(6)
    ]
    assert codes == [200] * 5 + [429]
    refused = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {first}"})
    assert refused.get_json()["error"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    other = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {second}"})
    assert other.status_code == 200


def test_a_bearer_call_gets_no_session_cookie(limited_app, ops_runtime):
    from webapp.accounts import issue_token

    with ops_runtime.session_factory.begin() as session:
        token = issue_token(session, "clerk")
    answer = limited_app.test_client().get(
        "/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers


def test_the_memory_counts_end_with_their_window_and_are_swept(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(limits.time, "time", lambda: now[0])
    storage = limits.SweptMemoryStorage()
    assert [storage.incr("caller", 60) for _ in range(3)] == [1, 2, 3]
    storage.incr("other", 600)
    now[0] += 61
    assert storage.get("caller") == 0
    storage.incr("caller", 60)
    assert storage.incr("caller", 60) == 2
    now[0] += limits.SweptMemoryStorage.SWEEP_SECONDS + 1
    storage.incr("third", 60)
    assert set(storage.expirations) == {"other", "third"}


def test_the_api_limit_counts_without_starting_threads(limited_app, ops_runtime, monkeypatch):
    from webapp.accounts import issue_token

    with ops_runtime.session_factory.begin() as session:
        token = issue_token(session, "clerk")
    client = limited_app.test_client()
    client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert started == []


def test_mask_hides_iins_and_phone_numbers_but_not_other_numbers():
    text = "IIN 850314304175 phone +7 (701) 234-56-78, 87011234567, ARC 0201300012740054"
    assert mask(text) == ("IIN ********4175 phone +7*******78, +7*******67, ARC 0201300012740054")


def test_log_records_are_masked_in_messages_arguments_and_tracebacks(caplog):
    install()
    logger = logging.getLogger("webapp.some.module")
    with caplog.at_level(logging.INFO):
        logger.info("applicant %s called from %s", "850314304175", "+77012345678")
        try:
            raise ValueError("no person 621102401239")
        except ValueError:
            logger.exception("lookup failed")
    text = caplog.text
    assert "850314304175" not in text and "621102401239" not in text
    assert "+77012345678" not in text
    assert "********4175" in text and "********1239" in text


def test_create_app_installs_the_masking(ops_app):
    assert getattr(logging.getLogRecordFactory(), "masks_personal_data", False)


def test_pages_carry_the_content_security_policy_and_the_usual_headers(ops_app):
    answer = ops_app.test_client().get("/login")
    headers = answer.headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_signed_in_user_is_not_limited_by_the_sign_in_limit(limited_app):
    client = limited_app.test_client()
    token = csrf_of(client)
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert all(client.get("/admin/").status_code == 200 for _ in range(5))
