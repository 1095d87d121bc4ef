"""Accounts: users, roles, the sign-in throttle and API tokens."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp.accounts import (
    AccountError,
    SignInThrottled,
    authenticate,
    create_user,
    find_user,
    issue_token,
    set_roles,
    user_for_token,
    users_with_role,
)
from webapp.db.accounts import ApiToken, SignInAttempt
from webapp.db.base import utcnow
from webapp.db.session import make_engine, upgrade

PASSWORD = "long enough password"


def test_password_is_stored_as_a_scrypt_hash(sessions):
    with sessions.begin() as session:
        user = create_user(session, "aigerim", PASSWORD, ["clerk"])
        assert user.password_hash.startswith("scrypt:")
        assert PASSWORD not in user.password_hash


def test_passwords_are_hashed_at_scrypts_default_cost_unless_configured(sessions, monkeypatch):
    monkeypatch.delenv("TIRKEU_PASSWORD_COST")
    with sessions.begin() as session:
        user = create_user(session, "saule", PASSWORD, ["clerk"])
        assert user.password_hash.startswith("scrypt:32768:8:1$")
    for bad in ("1000", "512", "cheap", ""):
        monkeypatch.setenv("TIRKEU_PASSWORD_COST", bad)
        refused = pytest.raises(ValueError, match="TIRKEU_PASSWORD_COST must be a power of two")
        with refused, sessions.begin() as session:
            create_user(session, "bolat", PASSWORD, ["clerk"])
    with sessions.begin() as session:
        assert find_user(session, "bolat") is None
    with sessions.begin() as session:
        assert authenticate(session, "saule", PASSWORD, utcnow(), "127.0.0.1") is not None


def test_user_keeps_a_set_of_roles_and_set_roles_replaces_them(sessions):
    with sessions.begin() as session:
        create_user(session, "dauren", PASSWORD, ["clerk", "supervisor", "clerk"])
    with sessions.begin() as session:
        user = set_roles(session, "dauren", ["supervisor", "analyst"])
        assert user.roles == {"supervisor", "analyst"}
    with sessions.begin() as session:
        assert "dauren" in [u.username for u in users_with_role(session, "analyst")]
        assert "dauren" not in [u.username for u in users_with_role(session, "clerk")]


@pytest.mark.parametrize(
    ("roles", "iin", "reason"),
    [
        (["applicant"], None, "an applicant needs an IIN"),
        (["clerk"], "880517401807", "not a valid IIN"),
        (["cashier"], None, "unknown role: cashier"),
    ],
)
def test_invalid_accounts_are_refused_with_a_reason(sessions, roles, iin, reason):
    with sessions.begin() as session, pytest.raises(AccountError, match=reason):
        create_user(session, "someone", PASSWORD, roles, iin=iin)


def test_applicant_carries_an_iin(sessions):
    with sessions.begin() as session:
        user = create_user(session, "arman", PASSWORD, ["applicant"], iin="850314304175")
        assert user.iin == "850314304175"


def test_user_name_is_unique_and_password_long_enough(sessions):
    with sessions.begin() as session:
        create_user(session, "aigerim", PASSWORD, ["clerk"])
        with pytest.raises(AccountError, match="exists already"):
            create_user(session, "aigerim", PASSWORD, ["clerk"])
        with pytest.raises(AccountError, match="at least 12"):
            create_user(session, "short", "1234", ["clerk"])


def test_five_failures_make_the_client_wait_thirty_seconds_then_twice_as_long(sessions):
    now = utcnow()
    with sessions.begin() as session:
        create_user(session, "aigerim", PASSWORD, ["clerk"])
    with sessions.begin() as session:
        for _ in range(5):
            assert authenticate(session, "aigerim", "wrong password", now, "10.0.0.1") is None
        with pytest.raises(SignInThrottled) as waiting:
            authenticate(session, "aigerim", PASSWORD, now + timedelta(seconds=29), "10.0.0.1")
        assert waiting.value.retry_after == 1
        later = now + timedelta(seconds=30)
        assert authenticate(session, "aigerim", "wrong password", later, "10.0.0.1") is None
        with pytest.raises(SignInThrottled) as waiting:
            authenticate(session, "aigerim", PASSWORD, later + timedelta(seconds=1), "10.0.0.1")
        assert waiting.value.retry_after == 59
        assert authenticate(session, "aigerim", PASSWORD, later + timedelta(seconds=60), "10.0.0.1")


def test_other_clients_and_other_users_are_not_slowed(sessions):
    now = utcnow()
    with sessions.begin() as session:
        create_user(session, "aigerim", PASSWORD, ["clerk"])
        create_user(session, "dauren", PASSWORD, ["clerk"])
        for _ in range(5):
            authenticate(session, "aigerim", "wrong password", now, "10.0.0.1")
        assert authenticate(session, "aigerim", PASSWORD, now, "10.0.0.2") is not None
        assert authenticate(session, "dauren", PASSWORD, now, "10.0.0.1") is not None


def test_success_resets_the_failure_count(sessions):
    now = utcnow()
    with sessions.begin() as session:
        create_user(session, "aigerim", PASSWORD, ["clerk"])
        for _ in range(4):
            authenticate(session, "aigerim", "wrong password", now, "10.0.0.1")
        assert authenticate(session, "aigerim", PASSWORD, now, "10.0.0.1") is not None
        later = now + timedelta(seconds=1)
        for _ in range(4):
            authenticate(session, "aigerim", "wrong password", later, "10.0.0.1")
        assert authenticate(session, "aigerim", PASSWORD, later, "10.0.0.1") is not None


def test_every_attempt_is_logged_also_for_unknown_users(sessions):
    with sessions.begin() as session:
        create_user(session, "aigerim", PASSWORD, ["clerk"])
        assert authenticate(session, "nobody", PASSWORD, utcnow(), "10.0.0.1") is None
        assert authenticate(session, "aigerim", PASSWORD, utcnow(), "10.0.0.1") is not None
    with sessions.begin() as session:
        rows = session.scalars(select(SignInAttempt).order_by(SignInAttempt.id)).all()
        assert [(r.username, r.user_id is None, r.succeeded) for r in rows] == [
            ("nobody", True, False),
            ("aigerim", False, True),
        ]


def test_token_is_kept_only_as_a_digest_and_finds_its_user(sessions):
    with sessions.begin() as session:
        create_user(session, "robot", PASSWORD, ["clerk"])
        token = issue_token(session, "robot")
    with sessions.begin() as session:
        digests = session.scalars(select(ApiToken.digest)).all()
        assert token not in digests and len(digests[0]) == 64
        assert user_for_token(session, token).username == "robot"
        assert user_for_token(session, token + "x") is None
        with pytest.raises(AccountError, match="no user"):
            issue_token(session, "ghost")


def test_token_lookup_gives_the_roles_notes_the_use_and_ignores_inactive_users(sessions):
    with sessions.begin() as session:
        create_user(session, "robot", PASSWORD, ["clerk", "supervisor"])
        create_user(session, "gone", PASSWORD, ["clerk"])
        token, gone = issue_token(session, "robot"), issue_token(session, "gone")
        find_user(session, "gone").active = False
    with sessions.begin() as session:
        account = user_for_token(session, token)
        assert account.roles == {"clerk", "supervisor"}
        assert user_for_token(session, gone) is None
    with sessions.begin() as session:
        assert session.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == account.id))


def test_migration_creates_the_account_tables(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade(engine)
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        create_user(session, "aigerim", PASSWORD, ["clerk"])
        assert session.scalar(select(func.count()).select_from(SignInAttempt)) == 0
    engine.dispose()
