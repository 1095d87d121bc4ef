"""A known history: review instances run through the real runtime on a controllable clock.

Also the web application on it, signed in by role, as a test client or in Chromium.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_login.utils import _create_identifier
from sqlalchemy import select

from webapp.db.accounts import User, UserRole
from webapp.db.base import Base
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.settings import SUMMARY_FIELDS
from webapp.web import create_app
from webapp.web.auth import SEEN_AT, SIGNED_IN_AT

DIAGRAMS = Path(__file__).with_name("diagrams")
IIN = "850314304175"
NOW = datetime(2026, 11, 3, 12, 30, tzinfo=UTC)
SINCE = datetime(2026, 11, 2, tzinfo=UTC)
UNTIL = datetime(2026, 11, 4, tzinfo=UTC)
USERS = ("analyst", "supervisor", "administrator", "clerk", "applicant")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = SINCE

    def __call__(self) -> datetime:
        """Return the time the test has set."""
        return self.now


@dataclass(frozen=True)
class Case:
    """One instance of the history: when it starts and, in minutes, how its tasks go.

    `check` and `approve` are (minutes until claimed, minutes worked); `reason` refuses.
    """

    start: datetime
    channel: str
    registration_type: str
    check: tuple[int, int] | None
    approve: tuple[int, int] | None = None
    reason: str | None = None


def at(day: int, hour: int) -> datetime:
    """Return a UTC hour of November 2026."""
    return datetime(2026, 11, day, hour, tzinfo=UTC)


HISTORY = (
    Case(at(2, 9), "online", "permanent", (2, 5), (1, 3)),
    Case(at(2, 10), "service_centre", "permanent", (4, 6), (2, 8)),
    Case(at(2, 11), "online", "temporary", (1, 3), reason="documents_missing"),
    Case(at(3, 9), "service_centre", "permanent", (3, 4), reason="no_authority"),
    Case(at(3, 10), "online", "permanent", (2, 2), (5, 10)),
    Case(at(3, 12), "online", "permanent", None),
    Case(at(5, 9), "online", "permanent", (1, 1), reason="documents_missing"),
)


@dataclass(frozen=True)
class History:
    """The runtime, its sessions and the ids of the instances of HISTORY, in order."""

    runtime: Runtime
    session_factory: object
    clock: Clock
    ids: tuple[int, ...]
    url: str


def work(runtime: Runtime, clock: Clock, task_id: str, timing, data: dict, actor: str):
    """Claim a task after its waiting minutes and complete it after its working minutes."""
    claim_after, worked = timing
    clock.now += timedelta(minutes=claim_after)
    runtime.claim(task_id, actor)
    clock.now += timedelta(minutes=worked)
    return runtime.complete(task_id, data, actor=actor)


def run_case(runtime: Runtime, clock: Clock, case: Case, number: int) -> int:
    """Run one case of the history and return its instance id."""
    clock.now = case.start
    view = runtime.start(
        "review",
        {
            "application_number": f"A-{number:04d}",
            "channel": case.channel,
            "registration_type": case.registration_type,
            "applicant_iin": IIN,
            "person_iin": IIN,
            "applicant_first_name": "Aigerim",
            "applicant_last_name": "Nurlanova",
        },
    )
    if case.check is None:
        return view.id
    decision = {"documents_ok": case.reason is None, "reason": case.reason}
    view = work(runtime, clock, view.ready_tasks[0].id, case.check, decision, "clerk1")
    if case.approve is not None:
        view = work(runtime, clock, view.ready_tasks[0].id, case.approve, {}, "supervisor1")
    return view.id


def build_runtime(url: str, clock: Clock) -> tuple[Runtime, object]:
    """Return a runtime on a migrated database with the review process deployed."""
    engine = make_engine(url)
    upgrade(engine)
    session_factory = make_session_factory(engine)
    runtime = Runtime(
        session_factory, {}, {"service_term": "PT15M"}, clock=clock, summary_fields=SUMMARY_FIELDS
    )
    runtime.deploy({"review.bpmn": (DIAGRAMS / "review.bpmn").read_bytes()})
    return runtime, session_factory


@pytest.fixture
def history(database_url):
    """Run HISTORY through the runtime and leave the clock at NOW."""
    clock = Clock()
    runtime, session_factory = build_runtime(database_url, clock)
    ids = tuple(run_case(runtime, clock, case, n) for n, case in enumerate(HISTORY, 1))
    clock.now = NOW
    yield History(runtime, session_factory, clock, ids, database_url)
    session_factory.kw["bind"].dispose()


@pytest.fixture
def session(history):
    """A session on the history's database."""
    with history.session_factory() as session:
        yield session


@pytest.fixture
def app(history):
    """The web application on the history, with one user per role (no password needed)."""
    engine = history.session_factory.kw["bind"]
    Base.metadata.create_all(engine)
    with history.session_factory.begin() as session:
        for role in USERS:
            session.add(
                User(
                    username=role,
                    password_hash="-",
                    iin=IIN if role == "applicant" else None,
                    role_rows=[UserRole(role=role)],
                )
            )
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": history.url,
            "RUNTIME": history.runtime,
            "SESSION_FACTORY": history.session_factory,
        }
    )


def signed_in(app, history, username: str):
    """Return a test client signed in as the user, without the deliberately slow password check."""
    with history.session_factory() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        cookie_id = f"{user.id}:{user.session_generation}"
    client = app.test_client()
    with app.test_request_context(environ_base=client.environ_base):
        # Sessions are bound to the client's address and agent (strong session protection).
        identifier = _create_identifier()
    now = int(time.time())
    with client.session_transaction() as cookie:
        cookie.update(_user_id=cookie_id, _fresh=True, _id=identifier)
        cookie.update({SIGNED_IN_AT: now, SEEN_AT: now})
    return client


@pytest.fixture
def analyst_page(browser, app, history, live_url):
    """A Chromium page signed in as the analyst, and the base URL of the live app."""
    client = signed_in(app, history, "analyst")
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, user_agent=client.environ_base["HTTP_USER_AGENT"]
    )
    context.add_cookies(
        [{"name": "session", "value": client.get_cookie("session").value, "url": live_url}]
    )
    yield context.new_page(), live_url
    context.close()


@pytest.fixture
def console(analyst_page):
    """The console messages and page errors of the analyst's page, as `type: text` lines."""
    page, _ = analyst_page
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    return messages


def assert_clean(page, messages: list[str]) -> None:
    """Fail on console errors or warnings, and on a page wider than its viewport."""
    assert [m for m in messages if m.startswith(("error", "warning", "pageerror"))] == []
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport"


def assert_chart_texts_fit(page) -> None:
    """Fail when a chart's text, as the browser draws it, reaches outside its chart."""
    outside = page.evaluate(
        """() => [...document.querySelectorAll("svg.chart")].flatMap((svg) => {
            const width = svg.viewBox.baseVal.width;
            return [...svg.querySelectorAll("text")]
                .map((text) => [text.textContent, text.getBBox()])
                .filter(([, box]) => box.x < 0 || box.x + box.width > width)
                .map(([content]) => content);
        })"""
    )
    assert outside == []
