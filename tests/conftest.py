"""Shared fixtures: a fresh database per test (SQLite file, and PostgreSQL where configured).

Both start at the newest migration: a SQLite test copies a file migrated once per test process,
and the PostgreSQL tests of a process take turns on one migrated schema, emptied after each.
"""

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, text
from werkzeug.serving import WSGIRequestHandler, make_server

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from webapp.bootstrap import Product, build, bundles, initialise, read_bundle
from webapp.db.session import make_engine, upgrade
from webapp.settings import Settings

POSTGRES_URL = os.environ.get("TIRKEU_TEST_POSTGRES_URL")
# Passwords are hashed at the lowest scrypt cost the product takes: the default is slow on
# purpose, and most tests create users. Commands the tests start inherit it.
# tests/web/test_accounts.py checks the default.
os.environ.setdefault("TIRKEU_PASSWORD_COST", "1024")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives Chromium `browser`, so `-m browser` selects them all."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file at the newest migration, made once per test process for tests to copy."""
    path = tmp_path_factory.mktemp("migrated") / "tirkeu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection folds the WAL into the file
    return path


@pytest.fixture
def sqlite_url(tmp_path, migrated_sqlite) -> str:
    """A SQLite database file of this test's own, already at the newest migration."""
    path = tmp_path / "tirkeu.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


def _new_schema(admin: Engine) -> tuple[str, str]:
    """Create an empty PostgreSQL schema; return its name and the URL whose path it is."""
    schema = f"t_{uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    return schema, f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """A connection pool to the tests' PostgreSQL database; skip the test where none is set."""
    if not POSTGRES_URL:
        pytest.skip("TIRKEU_TEST_POSTGRES_URL is not set: PostgreSQL tests run in CI")
    admin = create_engine(POSTGRES_URL)
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres(postgres_admin) -> Iterator[tuple[str, str]]:
    """A schema at the newest migration, made once per test process: its tests take turns."""
    schema, url = _new_schema(postgres_admin)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield schema, url
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_admin, migrated_postgres) -> Iterator[str]:
    """The process's migrated schema for this test, emptied afterwards (tables and counters)."""
    schema, url = migrated_postgres
    yield url
    with postgres_admin.begin() as connection:
        # A connection a test left open must not hang the next ones: wait for it a while only.
        connection.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
        tables = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
            {"schema": schema},
        )
        names = [f"{schema}.{name}" for name in tables if name != "alembic_version"]
        connection.exec_driver_sql(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")


@pytest.fixture
def empty_postgres_url(postgres_admin) -> Iterator[str]:
    """A PostgreSQL schema of this test's own with no tables yet, dropped afterwards."""
    schema, url = _new_schema(postgres_admin)
    yield url
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """Each database the product supports, in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


def registration_product(instance_path: Path, database_url: str, secret_key: str) -> Product:
    """Build the product on the database, the sandbox registries loaded with the data set in
    a file of the instance folder's, and deploy the registration process."""
    settings = Settings.from_env(
        instance_path=instance_path,
        database_url=database_url,
        secret_key=secret_key,
        registry={
            "registry_mode": "sandbox",
            "registry_url": f"sqlite:///{instance_path / 'r.db'}",
        },
    )
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    product = build(settings)
    initialise(product)
    [bundle] = bundles([settings.processes_path / "residence_registration"])
    product.runtime.deploy(read_bundle(bundle), deployed_by="tests")
    return product


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> str:
    """Each database the product supports, in turn, with no schema yet: for migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("empty_postgres_url")


class _ClosingHandler(WSGIRequestHandler):
    """Werkzeug's request handler, closing the response of a request whose client went away.

    Its server leaves that response open (a static file's handle, when the browser cancels a
    favicon) until the garbage collector finds it, and the warning fails whichever test is
    running then.
    """

    def connection_dropped(self, error: BaseException, environ=None) -> None:
        response = (environ or {}).get(RESPONSE)
        if hasattr(response, "close"):
            response.close()


RESPONSE = "tests.response"


def _remembering(app):
    """Wrap a WSGI app so that each request's environ holds its response for the handler."""

    def remembered(environ, start_response):
        environ[RESPONSE] = app(environ, start_response)
        return environ[RESPONSE]

    return remembered


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve a WSGI app over real HTTP on 127.0.0.1 in a thread; yield its base URL."""
    server = make_server(
        "127.0.0.1", 0, _remembering(app), threaded=True, request_handler=_ClosingHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_url(app):
    """Serve the test's `app` fixture over real HTTP on 127.0.0.1 and return its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, once per test session; skip where it is absent.

    Playwright's sync API allows one instance per thread, so every browser test shares this.
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return where screenshots go: $TIRKEU_SCREENSHOT_DIR, or a session temp folder."""
    configured = os.environ.get("TIRKEU_SCREENSHOT_DIR")
    if not configured:
        return tmp_path_factory.mktemp("screenshots")
    folder = Path(configured)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir: Path):
    """Return a helper that saves a PNG of a page, once it has loaded, and returns its path."""

    def take(page, name: str, *, full_page: bool = True) -> Path:
        page.wait_for_load_state()
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
