"""Fixtures of the online channel: the whole product (real runtime, sandbox registries) per test.

A template instance folder (database, sandbox registries, deployed process, demo centres, users
and demo keys) is built once; each test works on a copy of it.
"""

import json
import re
import shutil
from pathlib import Path

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from webapp.accounts import create_user
from webapp.booking import save_centres
from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.centres import CENTRES_PATH
from webapp.cli import DEMO_SIGNERS
from webapp.online.pki import demo_pki
from webapp.settings import Settings
from webapp.web import create_app

PASSWORD = "correct horse battery"
APPLICANT, GULNARA, KAIRAT = "850314304175", "621102401239", "600520302564"
COOWNED_ARC = "0201100045810023"
PEOPLE = (
    ("applicant", ["applicant"], APPLICANT),
    ("gulnara", ["applicant"], GULNARA),
    ("kairat", ["applicant"], KAIRAT),
    ("clerk", ["clerk"], None),
    ("analyst", ["analyst"], None),
)


def product_settings(folder: Path) -> Settings:
    """Return the settings of a product living in the folder."""
    return Settings.from_env(
        instance_path=folder,
        database_url=f"sqlite:///{folder / 'tirkeu.db'}",
        secret_key="online test secret",
        registry={"registry_url": f"sqlite:///{folder / 'registries.db'}"},
    )


@pytest.fixture(scope="session")
def template_instance(tmp_path_factory) -> Path:
    """Build the product once: schema, sandbox data, the process, centres, users and keys."""
    folder = tmp_path_factory.mktemp("online-template")
    settings = product_settings(folder)
    product = build(settings)
    initialise(product)
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    for bundle in bundles([settings.processes_path]):
        product.runtime.deploy(read_bundle(bundle))
    with product.session_factory() as session:
        save_centres(session, json.loads(CENTRES_PATH.read_text(encoding="utf-8")))
    with product.session_factory.begin() as session:
        for username, roles, iin in PEOPLE:
            create_user(session, username, PASSWORD, roles, iin=iin, full_name=username.title())
    demo_pki(folder, DEMO_SIGNERS)
    product.engine.dispose()
    return folder


@pytest.fixture
def instance(tmp_path, template_instance) -> Path:
    """Return a fresh copy of the template product's folder."""
    folder = tmp_path / "instance"
    shutil.copytree(template_instance, folder)
    return folder


@pytest.fixture
def app(instance):
    application = create_app(product_settings(instance))
    application.config["TESTING"] = True
    yield application
    application.extensions["tirkeu_notices"].dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["tirkeu"]


@pytest.fixture
def sessions(app):
    return app.extensions["tirkeu_sessions"]


class Browser:
    """A test client signed in as one user, posting with the session's CSRF token."""

    def __init__(self, app, username: str) -> None:
        self.client = app.test_client()
        self.token = self._token("/login")
        response = self.client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": self.token}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        # The CSRF token lives in the session, so any page that carries it will do.
        self.token = self._token("/login")

    def _token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs):
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)


@pytest.fixture
def signed_in(app):
    """Return a function that signs a user in and returns their client."""
    return lambda username: Browser(app, username)


def latest_code(text: str) -> str:
    """Return the newest one-time code in an outbox page."""
    return re.findall(r"Tirkeu: (\d{6}) is your code", text)[0]
