"""Sessions and accounts: sessions that end, password policy, sign-in throttle, tokens, limits."""

# ruff: noqa: F811  (the operations fixtures are imported below and named as test arguments)

import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tests.operations.conftest import (  # noqa: F401  (fixtures)
    PASSWORD,
    csrf_of,
    ops_app,
    ops_engine,
    ops_runtime,
    registry,
    signed_in,
)
from webapp.accounts import (
    AccountError,
    create_user,
    find_user,
    issue_token,
    password_problem,
    tokens_of,
)
from webapp.accounts.cli import users
from webapp.cli import create_demo_users
from webapp.web import create_app
from webapp.web.auth import SEEN_AT, SIGNED_IN_AT

APPLICANT_IIN = "850314304175"
NEW_PASSWORD = "tulip orbit canyon lantern"


def app_over(ops_runtime, **config):
    """Return an app over the test's runtime, rate limits off unless the config sets some."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test secret",
        "DATABASE_URL": "sqlite://",
        "RUNTIME": ops_runtime,
        "SESSION_FACTORY": ops_runtime.session_factory,
        "RATELIMIT_ENABLED": False,
    }
    settings.update(config)
    return create_app(settings)


def copy_of(app, client):
    """Return a new client holding a copy of the client's session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def sent_to_sign_in(answer) -> bool:
    return answer.status_code == 302 and "/login" in answer.headers["Location"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_copied_cookie_stops_working_when_its_user_signs_out(ops_app):
    client, token = signed_in(ops_app, "admin")
    thief = copy_of(ops_app, client)
    assert thief.get("/admin/users").status_code == 200
    client.post("/logout", data={"csrf_token": token})
    assert sent_to_sign_in(thief.get("/admin/users"))
    assert sent_to_sign_in(client.get("/admin/users"))


def test_a_session_ends_after_thirty_idle_minutes_and_twelve_hours_in_all(ops_app):
    client, _token = signed_in(ops_app, "admin")
    now = int(time.time())
    with client.session_transaction() as session:
        session[SEEN_AT] = now - 29 * 60
    assert client.get("/admin/users").status_code == 200
    with client.session_transaction() as session:
        assert session[SEEN_AT] >= now
        session[SEEN_AT] = now - 31 * 60
    assert sent_to_sign_in(client.get("/admin/users"))
    busy, _token = signed_in(ops_app, "admin")
    with busy.session_transaction() as session:
        session[SIGNED_IN_AT] = now - 12 * 3600 - 1
    assert sent_to_sign_in(busy.get("/admin/users"))


def test_the_idle_timeout_is_a_setting(ops_runtime, ops_app):
    app = app_over(ops_runtime, SESSION_IDLE_MINUTES=5)
    client, _token = signed_in(app, "admin")
    with client.session_transaction() as session:
        session[SEEN_AT] = int(time.time()) - 6 * 60
    assert sent_to_sign_in(client.get("/admin/users"))


def session_cookie_of(answer) -> str:
    [cookie] = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return cookie


def session_cookie_header(client, base_url: str = "http://localhost") -> str:
    token = csrf_of(client)
    headers = client.post(
        base_url + "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
    ).headers.getlist("Set-Cookie")
    [cookie] = [h for h in headers if h.startswith("session=")]
    remembered = [h for h in headers if h.startswith("remember_token=")]
    assert all("Max-Age=0" in h for h in remembered), "no remember-me cookie is ever set"
    return cookie


def test_cookies_are_secure_over_https_httponly_lax_and_end_with_the_browser(ops_runtime, ops_app):
    over_https = session_cookie_header(ops_app.test_client(), "https://localhost")
    assert "Secure" in over_https and "HttpOnly" in over_https and "SameSite=Lax" in over_https
    assert "Expires" not in over_https and "Max-Age" not in over_https
    assert "Secure" not in session_cookie_header(ops_app.test_client())
    https_site = app_over(ops_runtime, HTTPS=True)
    assert "Secure" in session_cookie_header(https_site.test_client())


def test_behind_a_declared_proxy_its_forwarded_scheme_and_address_count(ops_runtime, ops_app):
    proxied = app_over(ops_runtime, PROXIES=1)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    client = proxied.test_client()
    token = csrf_of(client)
    answer = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        headers=forwarded,
    )
    assert "Secure" in session_cookie_of(answer)
    direct = ops_app.test_client()
    token = csrf_of(direct)
    answer = direct.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        headers=forwarded,
    )
    assert "Secure" not in session_cookie_of(answer)


def test_password_change_asks_the_current_one_and_ends_the_other_sessions(ops_app):
    client, token = signed_in(ops_app, "clerk")
    thief = copy_of(ops_app, client)
    form = {"csrf_token": token, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    wrong = client.post("/account/password", data={**form, "current_password": "guess"})
    assert wrong.status_code == 400
    assert "the current password is wrong" in wrong.get_data(as_text=True)
    weak = {**form, "current_password": PASSWORD, "new_password": "12345678"}
    answer = client.post("/account/password", data={**weak, "confirm_password": "12345678"})
    assert answer.status_code == 400 and "at least 12 characters" in answer.get_data(as_text=True)
    changed = client.post("/account/password", data={**form, "current_password": PASSWORD})
    assert changed.status_code == 302
    assert client.get("/account/password").status_code == 200
    assert sent_to_sign_in(thief.get("/account/password"))
    again = ops_app.test_client()
    login = {"username": "clerk", "csrf_token": csrf_of(again)}
    assert again.post("/login", data={**login, "password": PASSWORD}).status_code == 401
    assert again.post("/login", data={**login, "password": NEW_PASSWORD}).status_code == 302


def test_every_signed_in_user_may_change_their_password_but_nobody_else(ops_app):
    assert sent_to_sign_in(ops_app.test_client().get("/account/password"))
    client, _token = signed_in(ops_app, "clerk")
    assert "current_password" in client.get("/account/password").get_data(as_text=True)


def test_disabling_an_account_ends_its_sessions_and_tokens_at_once(ops_app, ops_runtime):
    with ops_runtime.session_factory.begin() as session:
        api_token = issue_token(session, "clerk")
    clerk, _token = signed_in(ops_app, "clerk")
    api = ops_app.test_client()
    assert api.get("/api/v1/tasks", headers=bearer(api_token)).status_code == 200
    admin, token = signed_in(ops_app, "admin")
    assert admin.post("/admin/users/clerk/disable", data={"csrf_token": token}).status_code == 302
    assert sent_to_sign_in(clerk.get("/account/password"))
    assert api.get("/api/v1/tasks", headers=bearer(api_token)).status_code == 401
    refused = ops_app.test_client()
    login = {"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(refused)}
    assert refused.post("/login", data=login).status_code == 401
    assert admin.post("/admin/users/clerk/enable", data={"csrf_token": token}).status_code == 302
    assert api.get("/api/v1/tasks", headers=bearer(api_token)).status_code == 200
    assert sent_to_sign_in(clerk.get("/account/password"))


def test_tokens_are_listed_with_their_times_and_a_revoked_one_stops_at_once(ops_app, ops_runtime):
    sessions = ops_runtime.session_factory
    with sessions.begin() as session:
        first, second = issue_token(session, "clerk"), issue_token(session, "clerk")
        first_id, second_id = (info.id for info in tokens_of(session, "clerk"))
    api = ops_app.test_client()
    assert api.get("/api/v1/tasks", headers=bearer(first)).status_code == 200
    admin, token = signed_in(ops_app, "admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/clerk/tokens/{first_id}/revoke" in page
    assert f"/admin/users/clerk/tokens/{second_id}/revoke" in page
    revoke = f"/admin/users/clerk/tokens/{first_id}/revoke"
    assert admin.post(revoke, data={"csrf_token": token}).status_code == 302
    assert api.get("/api/v1/tasks", headers=bearer(first)).status_code == 401
    assert api.get("/api/v1/tasks", headers=bearer(second)).status_code == 200
    with sessions.begin() as session:
        [revoked, valid] = tokens_of(session, "clerk")
    assert revoked.revoked_at is not None and revoked.last_used_at is not None
    assert valid.revoked_at is None and valid.created_at is not None
    # A token is revoked under its own user's name only.
    wrong_owner = f"/admin/users/admin/tokens/{second_id}/revoke"
    admin.post(wrong_owner, data={"csrf_token": token})
    assert api.get("/api/v1/tasks", headers=bearer(second)).status_code == 200


def run_cli(sessions, *args):
    return CliRunner().invoke(users, list(args), obj={"session_factory": sessions})


def test_the_users_command_lists_revokes_disables_and_sets_passwords(ops_app, ops_runtime):
    sessions = ops_runtime.session_factory
    old = run_cli(sessions, "token", "clerk").stdout.strip()
    issued = run_cli(sessions, "token", "clerk")
    assert "1 other valid token" in issued.stderr
    listing = run_cli(sessions, "tokens", "clerk")
    assert listing.exit_code == 0 and len(listing.output.strip().splitlines()) == 3
    with sessions.begin() as session:
        old_id = tokens_of(session, "clerk")[0].id
    assert run_cli(sessions, "revoke-token", str(old_id)).exit_code == 0
    api = ops_app.test_client()
    assert api.get("/api/v1/tasks", headers=bearer(old)).status_code == 401
    assert run_cli(sessions, "revoke-token", str(old_id)).exit_code == 1
    assert run_cli(sessions, "revoke-token", "0").exit_code == 2
    client, _token = signed_in(ops_app, "clerk")
    refused = run_cli(sessions, "password", "clerk", "--password", "12345678")
    assert refused.exit_code == 1 and "at least 12 characters" in refused.output
    assert run_cli(sessions, "password", "clerk", "--password", NEW_PASSWORD).exit_code == 0
    assert sent_to_sign_in(client.get("/account/password"))
    client, _token = signed_in(ops_app, "admin")
    assert run_cli(sessions, "disable", "admin").exit_code == 0
    assert sent_to_sign_in(client.get("/admin/users"))
    assert run_cli(sessions, "enable", "admin").exit_code == 0
    assert run_cli(sessions, "disable", "ghost").exit_code == 1


def test_five_wrong_passwords_do_not_keep_the_real_user_out_from_another_client(ops_app):
    guesser = ops_app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    login = {"username": "clerk", "csrf_token": csrf_of(guesser)}
    answers = [guesser.post("/login", data={**login, "password": "guess"}) for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert "Try again in" in answers[-1].get_data(as_text=True)
    assert guesser.post("/login", data={**login, "password": PASSWORD}).status_code == 429
    user, _token = signed_in(ops_app, "clerk")
    assert user.get("/account/password").status_code == 200


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "at least 12 characters"),
        ("123456789012", "commonly used password"),
        ("password1234", "commonly used password"),
        ("qwertyuiop123", "commonly used password"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("aigerim-was-here-2026", "must not contain the user name"),
        ("x" * 129, "at most 128 characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(sqlite_url, password, reason):
    assert reason in password_problem(password, ["aigerim"])
    from sqlalchemy.orm import Session

    from webapp.db.session import make_engine, upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with Session(engine) as session, pytest.raises(AccountError, match=reason):
        create_user(session, "aigerim", password, ["clerk"])
    engine.dispose()


def test_admin_cannot_add_a_user_with_a_common_password(ops_app, ops_runtime):
    admin, token = signed_in(ops_app, "admin")
    form = {"csrf_token": token, "username": "dauren", "roles": "clerk"}
    answer = admin.post("/admin/users", data={**form, "password": "password1234"})
    assert answer.status_code == 422 and "commonly used password" in answer.get_data(as_text=True)
    reset = admin.post("/admin/users/clerk/password", data={"csrf_token": token, "password": "1"})
    assert "at least 12 characters" in admin.get(reset.headers["Location"]).get_data(as_text=True)
    with ops_runtime.session_factory.begin() as session:
        assert find_user(session, "dauren") is None


def test_demo_users_get_passwords_that_meet_the_policy(ops_runtime):
    passwords = create_demo_users(SimpleNamespace(session_factory=ops_runtime.session_factory))
    assert passwords and all(password_problem(p, [name]) is None for name, p in passwords.items())


@pytest.fixture
def limited(ops_app, ops_runtime):
    """The app with the sign-in, code and bearer-failure limits small enough to reach in a test."""
    with ops_runtime.session_factory.begin() as session:
        create_user(session, "arman", PASSWORD, ["applicant"], iin=APPLICANT_IIN)
    return app_over(
        ops_runtime,
        RATELIMIT_ENABLED=True,
        RATELIMIT_SIGNIN="3 per minute",
        RATELIMIT_CODES="3 per minute",
        RATELIMIT_BEARER_FAILURES="3 per minute",
    )


def test_the_one_time_code_check_is_rate_limited(limited):
    client, token = signed_in(limited, "arman")
    codes = [
        client.post("/portal/sign/verify", data={"csrf_token": token, "code": f"00000{n}"})
        for n in range(4)
    ]
    # With nothing to sign, a code is answered by a redirect to the form, until the limit.
    assert [answer.status_code for answer in codes] == [303, 303, 303, 429]


def test_password_change_is_limited_like_sign_in(limited):
    client, token = signed_in(limited, "arman")
    form = {"csrf_token": token, "current_password": "guess", "new_password": NEW_PASSWORD}
    codes = [client.post("/account/password", data=form).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def test_unknown_bearer_tokens_are_limited_per_address_and_a_valid_one_is_not_counted(
    limited, ops_runtime
):
    with ops_runtime.session_factory.begin() as session:
        valid = issue_token(session, "clerk")
    client = limited.test_client()
    assert all(
        client.get("/api/v1/tasks", headers=bearer(valid)).status_code == 200 for _ in range(5)
    )
    guesses = [
        client.get("/api/v1/tasks", headers=bearer(f"guess-{n}")).status_code for n in range(4)
    ]
    assert guesses == [401, 401, 401, 429]
    assert client.get("/metrics", headers=bearer("guess")).status_code == 429


def test_importing_the_cli_hashes_no_password():
    probe = (
        "import werkzeug.security as security\n"
        "calls = []\n"
        "original = security.generate_password_hash\n"
        "security.generate_password_hash = lambda *a, **k: calls.append(a) or original(*a, **k)\n"
        "import webapp.cli\n"
        "assert not calls, calls\n"
        "assert 'zxcvbn' not in __import__('sys').modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
