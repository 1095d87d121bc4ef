"""`tirkeu init --demo` seeds a month of history through the runtime; without it, nothing."""

import json
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.web.conftest import csrf_token
from webapp.bootstrap import build
from webapp.cli import main
from webapp.db.models import HumanTask, Incident, Instance, InstanceEvent
from webapp.demo.population import SCENARIOS, Month, Population
from webapp.settings import Settings
from webapp.web import create_app

APPLICATIONS = 40
# The outcomes the month reaches however few its applications: registered, and refused for each
# common reason (a consent's timeout among them).
OUTCOMES = {
    "registered", "under_14", "no_authority", "person_not_found", "not_a_citizen",
    "document_invalid", "owner_refused", "consent_timeout", "not_in_rental_contract",
    "no_title", "capital_cap_exceeded",
}  # fmt: skip


@pytest.fixture
def env(tmp_path, database_url, monkeypatch) -> dict[str, str]:
    """The environment of a fresh product on this test's database."""
    values = {
        "TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIRKEU_DATABASE_URL": database_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def init(env, *options: str) -> dict:
    """Run `tirkeu init` with the options; return its JSON answer."""
    result = CliRunner().invoke(main, ["init", *options, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def signed_in(app, username: str, password: str):
    """Return a test client signed in with the user's password."""
    client = app.test_client()
    token = csrf_token(client)
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302
    return client


def test_init_demo_seeds_a_month_of_every_outcome_the_dashboard_and_supervisors_queue_show(env):
    answer = init(env, "--demo", "--history", str(APPLICATIONS))
    seeded = answer["demo_history"]
    # The number asked, and the few added in the outages and left overdue at the end.
    assert APPLICATIONS < seeded["applications"] <= APPLICATIONS + 10
    product = build(Settings.from_env())
    now = datetime.now(UTC)
    with product.session_factory() as session:
        started = session.scalars(select(Instance.created_at)).all()
        statuses = dict(
            session.execute(select(Instance.status, func.count()).group_by(Instance.status)).all()
        )
        outcomes = {(s or {}).get("refusal_reason") or (s or {}).get("outcome")
                    for s in session.scalars(select(Instance.summary))}  # fmt: skip
        incidents = dict(
            session.execute(select(Incident.status, func.count()).group_by(Incident.status)).all()
        )
        open_tasks = session.scalars(
            select(HumanTask).where(HumanTask.state.in_(("ready", "claimed")))
        ).all()
        claims = session.execute(
            select(HumanTask.created_at, HumanTask.claimed_at, HumanTask.completed_at).where(
                HumanTask.claimed_by == "clerk", HumanTask.state == "completed"
            )
        ).all()
        workers = set(session.scalars(select(InstanceEvent.actor).where(
            InstanceEvent.kind == "claimed")))  # fmt: skip
        claimed_at = list(session.scalars(select(InstanceEvent.data).where(
            InstanceEvent.kind == "claimed", InstanceEvent.actor == "clerk_almaty")))  # fmt: skip
        started_with = session.scalars(
            select(InstanceEvent.data).where(InstanceEvent.kind == "instance_started")
        ).all()
    product.engine.dispose()
    # A month of applications, on many days, none in the future.
    assert len({moment.date() for moment in started}) >= 15
    assert min(started) >= now - timedelta(days=31) and max(started) <= now
    # Most registered, some refused or cancelled, some still open, the end's incidents open.
    assert statuses["completed"] > statuses.get("waiting", 0) > 0 and statuses["error"] >= 1
    assert len(started) == seeded["applications"] == sum(seeded["statuses"].values())
    assert outcomes >= OUTCOMES and set(seeded["outcomes"]) >= OUTCOMES
    assert {data["channel"] for data in started_with} == {"online", "service_centre"}
    assert {data["registration_type"] for data in started_with} == {"permanent", "temporary"}
    assert incidents["resolved"] >= 1 and incidents["open"] >= 1
    # Clerks claimed and finished checks after a wait and a while; some checks lie overdue.
    assert claims and all(made < claimed < done for made, claimed, done in claims)
    assert len({done - claimed for _, claimed, done in claims}) == len(claims)
    assert workers >= {"clerk"}
    # Counter applications are made at both demo centres, and worked by each centre's clerk.
    centres = {data.get("service_centre_id") for data in started_with}
    assert centres == {None, "AST-YESIL", "ALM-BOSTANDYK"}
    assert {d["centre"] for d in claimed_at if d} == {"ALM-BOSTANDYK"}
    overdue = [t for t in open_tasks if t.due_at is not None and t.due_at < now]
    assert any(t.bpmn_id == "Task_CheckDocuments" for t in overdue)
    assert any(t.role == "supervisor" for t in open_tasks)

    app = create_app()
    passwords = answer["demo_users"]
    # The month, not the default last week: of 40 applications, the last week's few may all be
    # the ones left waiting or in error at the end, whatever the time of day.
    month = {"since": (now - timedelta(days=31)).date().isoformat()}
    analyst = signed_in(app, "analyst", passwords["analyst"])
    dashboard = analyst.get("/analytics/dashboard", query_string=month).text
    figures = dict(re.findall(r"(Started|Finished) <strong>(\d+)</strong>", dashboard))
    assert int(figures["Started"]) == seeded["applications"] and int(figures["Finished"]) > 0
    queue = signed_in(app, "supervisor", passwords["supervisor"]).get("/tasks/supervisor").text
    assert "Handle overdue counter check" in queue
    app.extensions["tirkeu_sessions"].kw["bind"].dispose()

    again = init(env, "--demo")
    assert again["demo_history"] is None and again["demo_users"] == {}


def test_init_without_demo_seeds_no_history(env):
    assert init(env)["demo_history"] is None
    product = build(Settings.from_env())
    with product.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
    product.engine.dispose()


def test_the_same_seed_draws_the_same_month_and_every_scenario():
    end = datetime(2026, 12, 1, tzinfo=UTC)

    def month(seed: int) -> list:
        rng = random.Random(seed)  # noqa: S311  (a repeatable demo)
        return Month(rng, Population(rng)).arrivals(600, end - timedelta(days=30), end, [])

    first, again, other = month(14), month(14), month(15)
    assert first == again and first != other
    assert {a.scenario for a in first} == set(SCENARIOS)
    assert all(a.arrives.tzinfo and end - timedelta(days=30) <= a.arrives < end for a in first)


def test_init_demo_plays_no_history_on_registries_it_does_not_hold(env, monkeypatch):
    monkeypatch.setenv("TIRKEU_REGISTRY_MODE", "http")
    monkeypatch.setenv("TIRKEU_REGISTRY_BASE_URL", "http://127.0.0.1:9/registries")
    result = CliRunner().invoke(main, ["init", "--demo", "--history", "5", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["demo_history"] is None
    assert "no demo history: the demo history runs on the sandbox registries only" in result.stderr
