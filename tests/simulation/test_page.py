"""The process owner's Simulate page: recorded as a job, run by the worker's sweep, then shown."""

import pytest
from sqlalchemy import func, select

from tests.analytics.conftest import signed_in
from webapp.accounts import create_user
from webapp.db.accounts import User, UserRole
from webapp.db.base import Base
from webapp.db.simulation import SimulationJob
from webapp.web import create_app
from webapp.worker import JobWorker

URL = "/processes/review/2/simulate"
PASSWORD = "correct horse battery"
WEEK = {"from": "2026-11-02", "to": "2026-11-09", "runs": "2"}


@pytest.fixture
def app(known, sqlite_url):
    """The web application on the known history, with a process owner and a clerk."""
    Base.metadata.create_all(known.session_factory.kw["bind"])
    with known.session_factory.begin() as session:
        for role in ("process_owner", "clerk"):
            session.add(User(username=role, password_hash="-", role_rows=[UserRole(role=role)]))
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": sqlite_url,
            "RUNTIME": known.runtime,
            "SESSION_FACTORY": known.session_factory,
        }
    )


def jobs_recorded(known) -> int:
    """Return how many simulations are recorded."""
    with known.session_factory() as session:
        return session.scalar(select(func.count()).select_from(SimulationJob))


def test_owner_simulates_in_the_background_and_sees_the_result(app, known):
    owner = signed_in(app, known, "process_owner")
    form = owner.get(URL)
    assert form.status_code == 200 and b'name="staffing"' in form.data
    asked = owner.post(URL, data=WEEK)
    assert asked.status_code == 303
    page_url = asked.headers["Location"]
    assert page_url.endswith("/processes/review/simulations/1")
    waiting = owner.get(page_url).get_data(as_text=True)
    assert "waiting for the worker" in waiting and "js/simulation-progress.js" in waiting
    assert "<script>" not in waiting  # the page's own script is a file: the CSP allows no inline
    assert owner.get(page_url + "/progress").json == {
        "status": "pending",
        "done": 0,
        "total": 4,
        "text": "waiting for the worker",
    }

    JobWorker(known.runtime, identity="worker-1").sweep()

    assert owner.get(page_url + "/progress").json["status"] == "done"
    assert owner.get(page_url + "/progress").json["done"] == 4
    page = owner.get(page_url).get_data(as_text=True)
    assert "Version 1 (ran)" in page and "Version 2" in page and "Task_SecondCheck" in page
    # The diagram's badges: the candidate's new task among the queue waits.
    assert "a new task" in page and 'data-bpmn-url="/processes/review/2/files/review.bpmn"' in page
    assert "js/simulation-progress.js" not in page
    # Utilisation per pool and local hour: the known history's clerks worked from 14:00.
    assert "Clerk utilisation per centre and hour" in page
    assert '<th scope="row">Clerk</th>' in page and '<th scope="col">14</th>' in page
    assert 'href="/processes/review/simulations/1"' in owner.get(URL).get_data(as_text=True)


def test_a_failing_simulation_is_recorded_and_the_worker_carries_on(app, known):
    owner = signed_in(app, known, "process_owner")
    empty = owner.post(URL, data={**WEEK, "from": "2025-01-06", "to": "2025-01-13"})
    good = owner.post(URL, data={**WEEK, "runs": "1"})
    worker = JobWorker(known.runtime, identity="worker-1")
    worker.sweep()
    worker.sweep()
    failed = owner.get(empty.headers["Location"]).get_data(as_text=True)
    assert "The simulation failed" in failed and "no application of this process" in failed
    assert "Version 1 (ran)" in owner.get(good.headers["Location"]).get_data(as_text=True)
    # Latest first in the process's list: the good one, then the failed one.
    listing = owner.get(URL).get_data(as_text=True)
    assert listing.index("/simulations/2") < listing.index("/simulations/1")
    assert "failed" in listing and "done" in listing


def test_the_result_lists_each_registrys_learned_latency_or_that_none_was_timed(app, known):
    owner = signed_in(app, known, "process_owner")
    page_url = owner.post(URL, data={**WEEK, "runs": "1"}).headers["Location"]
    JobWorker(known.runtime, identity="worker-1").sweep()
    # The review process calls no registry: give its result two, one timed and one from a
    # log written before calls were timed.
    with known.session_factory.begin() as session:
        job = session.get(SimulationJob, 1)
        latency = {"count": 10, "p50": 100.0, "p90": 180.0, "p99": 200.0}
        services = {
            "Task_LookUp": {"calls": 10, "failure_rate": 0.1, "latency_ms": latency},
            "Task_Old": {"calls": 4, "failure_rate": 0.0, "latency_ms": latency | {"count": 0}},
        }
        job.result = job.result | {"model": job.result["model"] | {"services": services}}
    page = owner.get(page_url).get_data(as_text=True)
    assert "Registry calls learned from the log" in page
    assert "100.0 / 180.0 (timed calls: 10)" in page and "10.0%" in page
    assert "no call timed in the log: taken as zero" in page


def test_an_ended_simulation_is_deleted_and_a_waiting_one_is_kept(app, known):
    owner = signed_in(app, known, "process_owner")
    page_url = owner.post(URL, data={**WEEK, "runs": "1"}).headers["Location"]
    assert 'action="' + page_url + '/delete"' not in owner.get(page_url).get_data(as_text=True)
    refused = owner.post(page_url + "/delete")
    assert refused.status_code == 409 and "once it has ended" in refused.get_data(as_text=True)
    assert jobs_recorded(known) == 1
    JobWorker(known.runtime, identity="worker-1").sweep()
    assert 'action="' + page_url + '/delete"' in owner.get(page_url).get_data(as_text=True)
    deleted = owner.post(page_url + "/delete")
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith(URL)
    assert jobs_recorded(known) == 0
    assert owner.get(page_url).status_code == 404
    assert owner.post(page_url + "/delete").status_code == 404
    assert signed_in(app, known, "clerk").post(page_url + "/delete").status_code == 403


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("to", "2026-11-01", "must be after from"),
        ("from", "yesterday", "not a date"),
        ("runs", "500", "1 to 10"),
        ("runs", "two", "1 to 10"),
        ("staffing", "{not json", "not JSON"),
        ("staffing", '{"Clerk": "many"}', "needs a count, 168 hourly counts"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_recorded(app, known, field, value, reason):
    owner = signed_in(app, known, "process_owner")
    bad = owner.post(URL, data={**WEEK, field: value})
    assert bad.status_code == 422
    assert field in bad.get_data(as_text=True) and reason in bad.get_data(as_text=True)
    assert jobs_recorded(known) == 0


def test_an_unknown_version_or_simulation_is_not_found(app, known):
    owner = signed_in(app, known, "process_owner")
    assert owner.post("/processes/review/9/simulate", data=WEEK).status_code == 404
    assert owner.get("/processes/review/simulations/1").status_code == 404
    assert jobs_recorded(known) == 0


def test_a_clerk_may_neither_simulate_nor_see_a_simulation(app, known):
    owner = signed_in(app, known, "process_owner")
    page_url = owner.post(URL, data=WEEK).headers["Location"]
    clerk = signed_in(app, known, "clerk")
    assert clerk.get(URL).status_code == 403
    assert clerk.post(URL, data=WEEK).status_code == 403
    assert clerk.get(page_url).status_code == 403
    assert clerk.get(page_url + "/progress").status_code == 403
    assert jobs_recorded(known) == 1


def test_the_page_follows_the_worker_in_a_browser_under_the_csp(app, known, live_url, browser):
    with known.session_factory.begin() as session:
        create_user(session, "owner", PASSWORD, ["process_owner"])
    context = browser.new_context()
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto(f"{live_url}/login")
    page.fill("#username", "owner")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{live_url}/")
    page.goto(live_url + URL)
    page.fill("input[name=from]", WEEK["from"])
    page.fill("input[name=to]", WEEK["to"])
    page.fill("input[name=runs]", WEEK["runs"])
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("text=waiting for the worker")

    JobWorker(known.runtime, identity="worker-1").sweep()

    # The page's script notices the end and reloads: the comparison and the diagram appear.
    page.wait_for_selector("text=Version 1 (ran)")
    page.wait_for_selector("#diagram svg")
    context.close()
    assert not problems
