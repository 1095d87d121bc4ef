"""Bearer tokens remembered for a moment: no query while valid, refused at once when changed."""

import pytest
from sqlalchemy import event, select, update

from webapp.accounts import (
    create_user,
    issue_token,
    revoke_token,
    set_active,
    set_roles,
    tokens_of,
    user_for_token,
)
from webapp.accounts import known_tokens as remembered
from webapp.db.accounts import ApiToken
from webapp.db.session import make_engine, make_session_factory, upgrade

PASSWORD = "long enough password"


@pytest.fixture
def sessions(database_url):
    """A migrated database (SQLite, then PostgreSQL) with a clerk holding a token."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def token(sessions):
    with sessions.begin() as session:
        create_user(session, "robot", PASSWORD, ["clerk"])
        return issue_token(session, "robot")


def statements(sessions):
    """Return a list that collects the statements run on the database from now on."""
    seen: list[str] = []
    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def found(sessions, token):
    """Return whom the token belongs to, as an API call asks it."""
    with sessions.begin() as session:
        return user_for_token(session, token)


def test_a_token_found_valid_is_answered_without_the_database_and_its_use_is_noted(sessions, token):
    seen = statements(sessions)
    assert found(sessions, token).username == "robot"
    assert seen
    with sessions.begin() as session:
        assert session.scalar(select(ApiToken.last_used_at)) is not None
    seen.clear()
    assert found(sessions, token).roles == {"clerk"}
    assert seen == []


def test_a_revoked_token_is_refused_at_once_though_it_was_remembered(sessions, token):
    assert found(sessions, token) is not None
    with sessions.begin() as session:
        revoke_token(session, tokens_of(session, "robot")[0].id)
    assert found(sessions, token) is None


def test_disabling_the_user_or_changing_roles_takes_effect_at_once(sessions, token):
    assert found(sessions, token).roles == {"clerk"}
    with sessions.begin() as session:
        set_roles(session, "robot", ["supervisor"])
    assert found(sessions, token).roles == {"supervisor"}
    with sessions.begin() as session:
        set_active(session, "robot", False)
    assert found(sessions, token) is None


def test_a_change_by_another_process_is_seen_once_the_remembering_time_is_over(
    sessions, token, monkeypatch
):
    assert found(sessions, token) is not None
    # A plain UPDATE, as another process (the CLI, another web process) would commit it.
    with sessions.begin() as session:
        session.execute(update(ApiToken).values(revoked_at=ApiToken.created_at))
    assert found(sessions, token) is not None
    monkeypatch.setattr(remembered, "REMEMBER_SECONDS", 0.0)
    assert found(sessions, token) is None


def test_a_lookup_overtaken_by_a_change_keeps_nothing(sessions, token):
    known = remembered.known_tokens(sessions.kw["bind"])
    began_at = known.generation
    known.forget()
    known.keep("digest", object(), began_at)
    assert known.get("digest") is None
    known.keep("digest", "account", known.generation)
    assert known.get("digest") == "account"


def test_an_unknown_token_is_never_remembered(sessions, token):
    assert found(sessions, "guess") is None
    seen = statements(sessions)
    assert found(sessions, "guess") is None
    assert seen
