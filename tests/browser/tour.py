"""Every role's pages, with the data they show: the browser tests' tour of the product.

The `tour` fixture builds one product for the test session (a user per role, the co-owners of
a flat, the sandbox registries, the service centres), puts applications in it in each state a
page shows (waiting for the co-owners' consent, at the clerk's check ready and claimed,
registered) and a booked visit, serves it over HTTP and answers a `Tour`: the pages each role
visits and a way to open them signed in, in a language, at the role's screen width. Other
browser tests import the fixture to walk the same pages.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from tests.conftest import serving
from tests.web.conftest import PASSWORD, application, signed_start
from webapp.accounts import create_user
from webapp.booking import available_slots, book, save_centres
from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.centres import CENTRES_PATH
from webapp.db.base import utcnow
from webapp.settings import Settings
from webapp.signing import DemoSigner
from webapp.web import create_app

PROCESS = "residence_registration"
PROCESSES = Path(__file__).resolve().parents[2] / "processes"
APPLICANT, OWNER, CO_OWNER = "850314304175", "621102401239", "600520302564"
COOWNED_ARC, OWN_FLAT_ARC = "0201100045810023", "0201300012740054"
# (user name, roles, IIN, full name): "owner" is a citizen who owns a flat, asked to consent.
PEOPLE = (
    ("applicant", ("applicant",), APPLICANT, "Yerlan Akhmetov"),
    ("owner", ("applicant",), OWNER, "Gulnara Zhumabayeva"),
    ("co_owner", ("applicant",), CO_OWNER, "Kairat Zhumabayev"),
    ("clerk", ("clerk",), None, "Aizhan Clerk"),
    ("supervisor", ("supervisor",), None, "Marat Supervisor"),
    ("process_owner", ("process_owner",), None, "Dana Process-Owner"),
    ("analyst", ("analyst",), None, "Timur Analyst"),
    ("administrator", ("administrator",), None, "Aigul Administrator"),
)
ROLES = ("applicant", "owner", "clerk", "supervisor", "process_owner", "analyst", "administrator")
VISITOR = "visitor"  # not signed in
# Citizens use phones: their pages must work from 360 px; staff work at desks, from 1280 px.
CITIZENS = ("applicant", "owner")
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 800}
LANGUAGES = ("en", "kk", "ru")


@dataclass(frozen=True)
class Visit:
    """A page of the tour: its path, and how to reach it when a form leads there."""

    name: str
    path: str
    # Called with the page and the site's URL instead of opening `path` (posting the form that
    # leads there); the tour then checks that the browser landed on `path`.
    reach: Callable[[Any, str], None] | None = None
    # The README shows this page under this name (`make screenshots`).
    picture: str | None = None


@dataclass
class Tour:
    """The served product, the pages of each role and the signed-in browser state per role."""

    url: str
    visits: dict[str, list[Visit]]
    signed_in: dict[str, dict] = field(default_factory=dict)

    def width(self, role: str) -> dict[str, int]:
        """Return the screen a role's pages are checked at."""
        return PHONE if role in (*CITIZENS, VISITOR) else DESK

    def open(self, browser: Any, role: str, language: str, viewport: dict | None = None) -> Any:
        """Return a new page signed in as the role, in the language; close its context after."""
        context = browser.new_context(
            viewport=viewport or self.width(role),
            storage_state=self.state_of(browser, role),
            locale={"en": "en-GB", "kk": "kk-KZ", "ru": "ru-RU"}[language],
        )
        context.add_cookies([{"name": "lang", "value": language, "url": self.url}])
        context.set_default_timeout(30_000)
        return context.new_page()

    def state_of(self, browser: Any, role: str) -> dict | None:
        """Return the cookies of a session signed in as the role, signing in the first time.

        The visitor signs in as no one.
        """
        if role == VISITOR:
            return None
        if role not in self.signed_in:
            context = browser.new_context()
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(self.url + "/login")
            page.fill("#username", role)
            page.fill("#password", PASSWORD)
            page.click("button.button-primary")
            page.wait_for_url(lambda url: "/login" not in url)
            self.signed_in[role] = context.storage_state()
            context.close()
        return self.signed_in[role]

    def go(self, page: Any, visit: Visit) -> None:
        """Open the visit's page and wait until it has loaded."""
        if visit.reach is None:
            page.goto(self.url + visit.path)
        else:
            visit.reach(page, self.url)
            page.wait_for_url(self.url + visit.path)
        page.wait_for_load_state("load")


def apply_for_review(page: Any, url: str) -> None:
    """Fill in the application form so that the review-and-sign page opens."""
    page.goto(url + "/portal/apply")
    page.fill("#field-arc", COOWNED_ARC)
    page.click("main form button.button-primary")


def settings_for(folder: Path) -> Settings:
    """Return the settings of the tour's product in the folder."""
    return Settings.from_env(
        instance_path=folder,
        database_url=f"sqlite:///{folder / 'tirkeu.db'}",
        secret_key="tour secret",
        registry={"registry_mode": "sandbox", "registry_url": f"sqlite:///{folder / 'reg.db'}"},
    )


def build_product(folder: Path, signer: DemoSigner) -> None:
    """Make the schema, registries, the deployed process, centres and the people."""
    signer.ca.save(folder / "pki")
    settings = settings_for(folder)
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    product = build(settings)
    initialise(product)
    for bundle in bundles([PROCESSES]):
        product.runtime.deploy(read_bundle(bundle), deployed_by="tour")
    with product.session_factory() as session:
        save_centres(session, json.loads(CENTRES_PATH.read_text(encoding="utf-8")))
    with product.session_factory.begin() as session:
        for username, roles, iin, full_name in PEOPLE:
            create_user(session, username, PASSWORD, roles, iin=iin, full_name=full_name)
    product.engine.dispose()


def accepted_check(runtime: Any, task_id: str) -> dict[str, Any]:
    """Return a document check that accepts with every box of the check form ticked."""
    schema, _ui = runtime.form_schema(task_id)
    ticks = {name for name, spec in schema["properties"].items() if spec.get("type") == "boolean"}
    return {**dict.fromkeys(ticks, True), "check_result": "accepted", "check_note": "Seen."}


def check_task(view: Any) -> str:
    """Return the id of the clerk's document check an application waits at."""
    return next(t.id for t in view.ready_tasks if t.bpmn_id == "Task_CheckDocuments")


def claimed(runtime: Any, task_id: str) -> str:
    """Claim the task for the clerk unless it already is; return its id."""
    if runtime.task(task_id).state == "ready":
        runtime.claim(task_id, "clerk")
    return task_id


def edited_bundle(mark: str) -> dict[str, bytes]:
    """Return the process's files with its diagram marked, so that it deploys as new content."""
    [bundle] = bundles([PROCESSES / PROCESS])
    files = read_bundle(bundle)
    name = next(name for name in files if name.endswith(".bpmn"))
    files[name] += f"<!-- {mark} -->\n".encode()
    return files


def set_up_data(app: Any, signer: DemoSigner) -> dict[str, Any]:
    """Put what the pages show into the product (applications in each state, a booking, a
    second version and a proposed third one); return their ids."""
    runtime, sessions = app.extensions["tirkeu"], app.extensions["tirkeu_sessions"]
    online = application("A-0101", channel="online", arc=COOWNED_ARC)
    waiting = runtime.start(PROCESS, signed_start(runtime, signer, PROCESS, online), "applicant")
    consent = next(t for t in waiting.ready_tasks if t.assignee == OWNER)
    ready = runtime.start(PROCESS, application("A-0102", arc=OWN_FLAT_ARC), "clerk")
    at_desk = runtime.start(PROCESS, application("A-0103", arc=OWN_FLAT_ARC), "clerk")
    done = runtime.start(PROCESS, application("A-0104", arc=OWN_FLAT_ARC), "clerk")
    check = claimed(runtime, check_task(done))
    runtime.complete(check, accepted_check(runtime, check), "clerk")
    # Later versions, after the applications: those stay on version 1 and may move to 2.
    runtime.deploy(edited_bundle("version 2"), deployed_by="process_owner")
    [proposed] = runtime.propose(edited_bundle("version 3"), "process_owner")
    with app.app_context(), sessions() as session:
        day = utcnow().date() + timedelta(days=1)
        slots = []
        while not slots:
            slots = available_slots(session, "AST-YESIL", day, now=utcnow())
            day += timedelta(days=1)
        book(session, APPLICANT, "AST-YESIL", slots[0].start.replace(tzinfo=None), utcnow())
    return {
        "waiting": waiting.id,
        "registered": done.id,
        "consent": consent.id,
        "ready": check_task(ready),
        "claimed": claimed(runtime, check_task(at_desk)),
        "proposal": proposed.deployment_id,
    }


def visits_of(ids: dict[str, Any]) -> dict[str, list[Visit]]:
    """Return each role's pages, given the ids of the data set up."""
    citizen = [
        Visit("outbox", "/portal/outbox"),
        Visit("visits", "/visits/"),
        Visit("password", "/account/password"),
    ]
    return {
        VISITOR: [Visit("login", "/login")],
        "applicant": [
            Visit("applications", "/portal/"),
            Visit("apply", "/portal/apply"),
            Visit("sign", "/portal/sign", reach=apply_for_review),
            Visit("waiting", f"/portal/applications/{ids['waiting']}", picture="application"),
            Visit("registered", f"/portal/applications/{ids['registered']}"),
            Visit("consents", "/portal/consents"),
            *citizen,
            Visit("not-found", "/portal/applications/999999"),
        ],
        "owner": [
            Visit("applications", "/portal/"),
            Visit("consents", "/portal/consents"),
            Visit("consent", f"/portal/consents/{ids['consent']}", picture="consent"),
            *citizen,
        ],
        "clerk": [
            Visit("tasks", "/tasks/", picture="tasks"),
            Visit("queue", "/tasks/?tab=queue"),
            Visit("ready", f"/tasks/{ids['ready']}"),
            Visit("claimed", f"/tasks/{ids['claimed']}", picture="task"),
            Visit("counter", "/tasks/counter"),
            Visit("desk", "/visits/desk"),
            Visit("password", "/account/password"),
        ],
        "supervisor": [
            Visit("tasks", "/tasks/?tab=all"),
            Visit("counter", "/tasks/counter"),
            Visit("office", "/tasks/supervisor"),
            Visit("analytics", "/analytics/"),
        ],
        "process_owner": [
            Visit("start", "/"),
            Visit("catalogue", "/processes/"),
            Visit("viewer", f"/processes/{PROCESS}/1/"),
            Visit("editor", f"/processes/{PROCESS}/1/edit"),
            Visit("diff", f"/processes/{PROCESS}/diff?from=1&to=2"),
            Visit("deployments", "/processes/deployments/"),
            Visit("review", f"/processes/deployments/{ids['proposal']}"),
        ],
        "analyst": [
            Visit("start", "/"),
            Visit("instances", "/analytics/"),
            Visit("instance", f"/analytics/instances/{ids['waiting']}", picture="instance"),
            Visit("dashboard", f"/analytics/dashboard?process={PROCESS}&version=1"),
        ],
        "administrator": [
            Visit("incidents", "/admin/"),
            Visit("users", "/admin/users"),
            Visit("instance", f"/admin/instances?id={ids['waiting']}"),
            Visit("retention", "/admin/retention"),
            Visit("migration", f"/processes/instances/{ids['waiting']}/migrate?to=2"),
        ],
    }


@pytest.fixture(scope="session")
def tour(browser, tmp_path_factory) -> Iterator[Tour]:
    """Serve the tour's product on 127.0.0.1 for the session and answer its pages."""
    folder = tmp_path_factory.mktemp("tour")
    signer = DemoSigner()
    build_product(folder, signer)
    app = create_app(settings_for(folder))
    app.config["TESTING"] = True
    # Every page is opened many times from one address, by sessions signed in once for the whole
    # test run: sign-in limits and idle sessions are not under test here.
    app.extensions["tirkeu_limiter"].enabled = False
    app.config["SESSION_IDLE_MINUTES"] = app.config["SESSION_LIFETIME_HOURS"] * 60
    ids = set_up_data(app, signer)
    with serving(app) as url:
        yield Tour(url=url, visits=visits_of(ids))
    app.extensions["tirkeu_sessions"].kw["bind"].dispose()
