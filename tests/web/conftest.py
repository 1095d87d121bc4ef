"""Fixtures for the web tests: an app on a fresh SQLite file, users of every role, a fake runtime.

`FakeRuntime` is a test double with the runtime's interface: it keeps instances and tasks in
the real read-model tables (so the task lists query real rows) and validates forms with
jsonschema, but runs no BPMN.
"""

import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from webapp.accounts import ROLES, create_user, issue_token
from webapp.db import accounts as _accounts  # noqa: F401  (registers the account tables)
from webapp.db.base import Base, utcnow
from webapp.db.models import Deployment, HumanTask, Instance, ProcessVersion
from webapp.db.session import make_engine, make_session_factory
from webapp.runtime.errors import Conflict, InvalidData, NotFound
from webapp.web import create_app

FIXTURES = Path(__file__).with_name("fixtures")
PASSWORD = "correct horse battery"
APPLICANT_IIN = "850314304175"
SUMMARY_KEYS = ("channel", "applicant_iin", "person_iin")
# The double keeps instance data in memory; the state column gets an empty value of its type.
EMPTY_STATE = Instance.state.type.python_type()
CHECK_DOCUMENTS = {
    "type": "object",
    "required": ["documents_ok"],
    "properties": {
        "documents_ok": {"type": "boolean", "title": "Documents are in order"},
        "pages": {"type": "integer", "title": "Pages", "minimum": 1},
        "refusal_reason": {"type": "string", "enum": ["document_invalid", "no_authority"]},
        "refusal_comment": {"type": "string", "title": "Comment"},
    },
}


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: int
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    state: str
    claimed_by: str | None
    due_at: datetime | None


@dataclass(frozen=True)
class InstanceView:
    id: int
    process_id: str
    version: int
    status: str
    data: dict
    business_key: str | None
    ready_tasks: list[TaskView] = field(default_factory=list)
    events: list = field(default_factory=list)
    incidents: list = field(default_factory=list)


class FakeRuntime:
    """A stand-in for the runtime: one clerk task per instance, no engine."""

    def __init__(self, sessions):
        self.sessions = sessions
        self.data: dict[int, dict] = {}
        self.forms = {"check_documents.schema.json": CHECK_DOCUMENTS}
        self.ui_forms = {"check_documents.schema.json": {"ui:order": ["documents_ok", "*"]}}
        self.messages: list[tuple[str, dict, dict]] = []

    def _version(self, session) -> int:
        version = session.scalar(select(ProcessVersion))
        if version is None:
            deployment = Deployment(content_hash="0" * 64)
            session.add(deployment)
            session.flush()
            version = ProcessVersion(
                process_id="residence_registration", version=1, deployment_id=deployment.id,
                bpmn_file="registration.bpmn", spec="{}",
            )  # fmt: skip
            session.add(version)
            session.flush()
        return version.id

    def add_task(self, data: dict, **columns: Any) -> str:
        """Create an instance with one open task; columns override the task's defaults."""
        with self.sessions.begin() as session:
            instance = Instance(
                process_version_id=self._version(session), process_id="residence_registration",
                status="waiting", state=EMPTY_STATE, serializer_version="1",
                summary={k: data[k] for k in SUMMARY_KEYS if k in data},
            )  # fmt: skip
            session.add(instance)
            session.flush()
            instance.business_key = f"A-{instance.id:04d}"
            self.data[instance.id] = dict(data)
            values = {
                "id": str(uuid.uuid4()), "instance_id": instance.id,
                "process_id": "residence_registration", "business_key": instance.business_key,
                "bpmn_id": "Task_CheckDocuments", "name": "Check documents", "lane": "Clerk",
                "role": "clerk", "form": "check_documents.schema.json", "state": "ready",
                "instructions": "Check the originals.\n<b>Then</b> decide.",
                "due_at": utcnow() + timedelta(minutes=15),
            }  # fmt: skip
            values.update(columns)
            session.add(HumanTask(**values))
            return values["id"]

    def data_of(self, task_id: str) -> dict:
        """Return the data of the instance a task belongs to."""
        return self.data[self.task(task_id).instance_id]

    def _task(self, session, task_id: str) -> HumanTask:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        return task

    def _view(self, task: HumanTask) -> TaskView:
        return TaskView(task.id, task.instance_id, task.bpmn_id, task.name, task.lane, task.role,
                        task.state, task.claimed_by, task.due_at)  # fmt: skip

    def _instance_view(self, session, instance: Instance) -> InstanceView:
        ready = session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == instance.id, HumanTask.state.in_(("ready", "claimed"))
            )
        )
        return InstanceView(instance.id, instance.process_id, 1, instance.status,
                            self.data[instance.id], instance.business_key,
                            [self._view(t) for t in ready])  # fmt: skip

    def start(self, process_id: str, data: dict, actor: str | None = None) -> InstanceView:
        if process_id != "residence_registration":
            raise NotFound(f"no process {process_id}")
        task_id = self.add_task(data)
        with self.sessions.begin() as session:
            instance = session.get(Instance, self._task(session, task_id).instance_id)
            return self._instance_view(session, instance)

    def claim(self, task_id: str, actor: str) -> TaskView:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            if task.state != "ready" or task.claimed_by:
                raise Conflict("the task is not free to claim")
            task.state, task.claimed_by, task.claimed_at = "claimed", actor, utcnow()
            return self._view(task)

    def unclaim(self, task_id: str, actor: str) -> TaskView:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            if task.claimed_by != actor:
                raise Conflict("the task is not claimed by you")
            task.state, task.claimed_by, task.claimed_at = "ready", None, None
            return self._view(task)

    def assign(self, task_id: str, user: str, actor: str) -> TaskView:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            if task.state not in ("ready", "claimed"):
                raise Conflict("the task is not open")
            task.state, task.assignee, task.claimed_by = "claimed", user, user
            return self._view(task)

    def complete(self, task_id: str, data: dict, actor: str | None = None) -> InstanceView:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            if task.state != "claimed" or task.claimed_by != actor:
                raise Conflict("the task was completed or claimed by someone else")
            schema = self.forms[task.form]
            errors = {
                (e.path[0] if e.path else ""): e.message
                for e in jsonschema.Draft202012Validator(schema).iter_errors(data)
            }
            if errors:
                raise InvalidData("invalid form data", errors)
            task.state, task.completed_by, task.completed_at = "completed", actor, utcnow()
            instance = session.get(Instance, task.instance_id)
            self.data[instance.id].update(data)
            instance.status = "completed"
            return self._instance_view(session, instance)

    def message(self, name: str, payload: dict, correlation: dict) -> InstanceView:
        with self.sessions.begin() as session:
            number = correlation.get("application_number")
            instance = session.scalar(select(Instance).where(Instance.business_key == number))
            if instance is None:
                raise NotFound("no waiting instance matches the message")
            self.messages.append((name, payload, correlation))
            return self._instance_view(session, instance)

    def instance(self, instance_id: int) -> InstanceView:
        with self.sessions.begin() as session:
            instance = session.get(Instance, instance_id)
            if instance is None:
                raise NotFound(f"no instance {instance_id}")
            return self._instance_view(session, instance)

    def task(self, task_id: str) -> TaskView:
        with self.sessions.begin() as session:
            return self._view(self._task(session, task_id))

    def form_schema(self, task_id: str) -> tuple[dict, dict | None]:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            return self.forms[task.form], self.ui_forms.get(task.form)

    def task_data(self, task_id: str) -> dict:
        with self.sessions.begin() as session:
            task = self._task(session, task_id)
            return self.data[task.instance_id]


@pytest.fixture(scope="session")
def template_database(tmp_path_factory) -> Path:
    """Build once a database with one user per role (named after the role) and a second clerk.

    Hashing passwords with scrypt is slow on purpose, so each test copies this file instead.
    """
    path = tmp_path_factory.mktemp("template") / "tirkeu.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with make_session_factory(engine).begin() as session:
        for role in ROLES:
            iin = APPLICANT_IIN if role == "applicant" else None
            create_user(session, role, PASSWORD, [role], iin=iin, full_name=role.title())
        create_user(session, "clerk2", PASSWORD, ["clerk"], full_name="Second Clerk")
    engine.dispose()  # closing the last connection folds the WAL into the file
    return path


@pytest.fixture
def sessions(tmp_path, template_database):
    path = tmp_path / "tirkeu.db"
    shutil.copyfile(template_database, path)
    engine = make_engine(f"sqlite:///{path}")
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def fake_runtime(sessions):
    return FakeRuntime(sessions)


@pytest.fixture
def users():
    """The user names of the template database: one per role, plus clerk2."""
    return (*ROLES, "clerk2")


@pytest.fixture
def app(sessions, fake_runtime, users):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": fake_runtime,
            "SESSION_FACTORY": sessions,
            "COUNTER_SCHEMA_PATH": str(FIXTURES / "application.schema.json"),
        }
    )


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
# reusing it spares a deliberately slow scrypt check per test.
SIGNED_IN: dict[str, str] = {}


def sign_in(client, username: str) -> str:
    """Sign the client in as the user and return the session's CSRF token."""
    if username in SIGNED_IN:
        client.set_cookie("session", SIGNED_IN[username])
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


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live_url(app):
    """Serve the app over real HTTP on 127.0.0.1 and return its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser_page(live_url):
    """Return a function that opens a Chromium page signed in as a user; `page.base` is the URL."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        def open_as(username: str):
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.base = live_url
            page.goto(live_url + "/login")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.click("button.button-primary")
            return page

        yield open_as
        browser.close()
