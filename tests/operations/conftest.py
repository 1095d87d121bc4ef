"""Operations fixtures: the web app over the real runtime, with administrators and clerks."""

from pathlib import Path

import pytest

from tests.runtime.conftest import DIAGRAMS, Registry
from webapp.accounts import create_user
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.web import create_app

PASSWORD = "correct horse battery"
TASKS = {name: (DIAGRAMS / name).read_bytes() for name in ("tasks.bpmn", "apply.schema.json")}
REPAIR = {
    path.name: path.read_bytes()
    for path in sorted(Path(__file__).with_name("diagrams").glob("repair*"))
}


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def ops_engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ops_runtime(ops_engine, registry) -> Runtime:
    runtime = Runtime(
        make_session_factory(ops_engine), {"registry.lookup": registry.lookup}, config={}
    )
    runtime.deploy(TASKS)
    return runtime


@pytest.fixture
def ops_app(ops_runtime, tmp_path: Path):
    sessions = ops_runtime.session_factory
    with sessions.begin() as session:
        create_user(session, "admin", PASSWORD, ["administrator"], full_name="Admin")
        create_user(session, "clerk", PASSWORD, ["clerk"], full_name="Clerk")
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": ops_runtime,
            "SESSION_FACTORY": sessions,
            "ARCHIVE_FOLDER": tmp_path / "archives",
            "RETENTION_DAYS": 30,
            "RATELIMIT_ENABLED": False,
        }
    )


def csrf_of(client) -> str:
    """Return the CSRF token of the client's session."""
    page = client.get("/login").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def signed_in(app, username: str):
    """Return a test client signed in as the user, and its CSRF token."""
    client = app.test_client()
    token = csrf_of(client)
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 302
    return client, csrf_of(client)
