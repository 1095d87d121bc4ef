"""Fixtures for the web tests: the app with the real runtime on a fresh SQLite file per test.

A session-wide template holds the migrated schema, the deployed registration process, one user
per role and the sandbox registries; each test copies its files, so that the slow parts (scrypt,
parsing the diagrams, loading the data set) happen once.
"""

import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from webapp.accounts import ROLES, create_user, issue_token
from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.settings import Settings
from webapp.signing import DemoSigner
from webapp.web import create_app
from webapp.web.auth import SEEN_AT, SIGNED_IN_AT

FIXTURES = Path(__file__).with_name("fixtures")
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PASSWORD = "correct horse battery"
SECRET_KEY = "test secret"
APPLICANT_IIN = "850314304175"
OWNER_IIN = "621102401239"
# The adult registers himself at the flat he alone owns: no consent, no review.
ARC_OWN_FLAT = "0201300012740054"
REGISTRIES = "registries.db"
DATABASE_FILES = ("tirkeu.db", REGISTRIES)
PKI = "pki"  # the trusted CA's folder in an instance folder


def application(number: str = "A-0100", **fields) -> dict:
    """Return a service-centre application that stops at the clerk's document check.

    It is dated before the online-first rule (1 November 2025), which since sends an adult of
    full capacity online: the clerk's desk is what these tests are about.
    """
    document = {
        "application_number": number,
        "channel": "service_centre",
        "registration_type": "permanent",
        "applicant_iin": APPLICANT_IIN,
        "applicant_type": "self",
        "person_iin": APPLICANT_IIN,
        "arc": ARC_OWN_FLAT,
        "arrived_from_abroad": False,
        "application_date": "2025-10-31",
    }
    document.update(fields)
    return document


def settings_for(folder: Path) -> Settings:
    """Return the settings of an instance folder holding the two database files."""
    return Settings.from_env(
        instance_path=folder,
        database_url=f"sqlite:///{folder / 'tirkeu.db'}",
        secret_key=SECRET_KEY,
        registry={"registry_mode": "sandbox", "registry_url": f"sqlite:///{folder / REGISTRIES}"},
    )


@pytest.fixture(scope="session")
def signer() -> DemoSigner:
    """Signs as anyone under the test CA, which the instance folders' products trust."""
    return DemoSigner()


def signed_start(runtime, signer: DemoSigner, process_id: str, document: dict) -> dict:
    """Return the start data with the signature the process asks of it (an online start)."""
    return signer.signed(document, runtime.start_signing(process_id, document))


@pytest.fixture(scope="session")
def template_folder(tmp_path_factory, signer: DemoSigner) -> Path:
    """Build once an instance folder: schema, the deployed process, users and registries.

    Hashing passwords with scrypt is slow on purpose, so each test copies these files instead.
    """
    folder = tmp_path_factory.mktemp("template")
    signer.ca.save(folder / PKI)
    settings = settings_for(folder)
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    product = build(settings)
    initialise(product)
    for bundle in bundles([PROCESSES, FIXTURES / "coded_refusal"]):
        product.runtime.deploy(read_bundle(bundle), deployed_by="tests")
    with product.session_factory.begin() as session:
        for role in ROLES:
            iin = APPLICANT_IIN if role == "applicant" else None
            create_user(session, role, PASSWORD, [role], iin=iin, full_name=role.title())
        create_user(session, "clerk2", PASSWORD, ["clerk"], full_name="Second Clerk")
    product.engine.dispose()  # closing the last connection folds the WAL into the file
    return folder


@pytest.fixture
def instance_folder(tmp_path, template_folder, monkeypatch) -> Path:
    """Copy the template into this test's folder and point the product's settings at it."""
    for name in DATABASE_FILES:
        shutil.copyfile(template_folder / name, tmp_path / name)
    shutil.copytree(template_folder / PKI, tmp_path / PKI)
    monkeypatch.setenv("TIRKEU_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TIRKEU_REGISTRY_URL", f"sqlite:///{tmp_path / 'registries.db'}")
    return tmp_path


@pytest.fixture
def users():
    """The user names of the template database: one per role, plus clerk2."""
    return (*ROLES, "clerk2")


@pytest.fixture
def app(instance_folder):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{instance_folder / 'tirkeu.db'}",
        }
    )
    yield app
    app.extensions["tirkeu_sessions"].kw["bind"].dispose()


@pytest.fixture
def runtime(app):
    """The app's runtime."""
    return app.extensions["tirkeu"]


@pytest.fixture
def sessions(app):
    """The app's session factory."""
    return app.extensions["tirkeu_sessions"]


def starter(runtime, process_id: str, bpmn_id: str) -> Callable[..., str]:
    """Return a function that starts an application of a process and returns its first task.

    `at` runs the start with the runtime's clock set to that moment (a due time in the past
    makes an overdue task); other keywords change the application. The application comes in
    with no starting clerk, so its check waits in the clerks' queue.
    """
    count = iter(range(1, 10_000))

    def start(at: datetime | None = None, **fields) -> str:
        document = application(f"A-{next(count):04d}", **fields)
        clock = runtime.clock
        runtime.clock = (lambda: at) if at else clock
        try:
            view = runtime.start(process_id, document)
        finally:
            runtime.clock = clock
        [task] = [t for t in view.ready_tasks if t.bpmn_id == bpmn_id]
        return task.id

    return start


@pytest.fixture
def start_check(runtime) -> Callable[..., str]:
    """Start a counter application of the registration process; return its document check."""
    return starter(runtime, "residence_registration", "Task_CheckDocuments")


@pytest.fixture
def start_decision(runtime) -> Callable[..., str]:
    """Start the test process whose one clerk task refuses with a coded reason; return it."""
    return starter(runtime, "coded_refusal", "Task_Decide")


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client) -> str:
    """Return the CSRF token of the client's session, from a page that carries it."""
    page = client.get("/login").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


# Session cookies of signed-in users. Every test's database is a copy of the same template and
# every app has the same secret key, so a cookie from one sign-in stays valid in later tests;
# reusing it spares a deliberately slow scrypt check per test. Its session clock is reset on
# reuse, since a cookie noted long ago would have ended as idle.
SIGNED_IN: dict[str, str] = {}


def sign_in(client, username: str) -> str:
    """Sign the client in as the user and return the session's CSRF token."""
    if username in SIGNED_IN:
        client.set_cookie("session", SIGNED_IN[username])
        with client.session_transaction() as session:
            session[SIGNED_IN_AT] = session[SEEN_AT] = int(time.time())
        return csrf_token(client)
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    SIGNED_IN[username] = client.get_cookie("session").value
    return csrf_token(client)


@pytest.fixture
def token_for(sessions, users):
    """Return a function that issues an API token for a user."""

    def issue(username: str) -> str:
        with sessions.begin() as session:
            return issue_token(session, username)

    return issue


@pytest.fixture
def browser_page(browser, live_url):
    """Return a function that opens a Chromium page signed in as a user; `page.base` is the URL."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.base = live_url
        page.goto(live_url + "/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button.button-primary")
        return page

    yield open_as
    for context in contexts:
        context.close()
