"""Registry latency: learned from the durations the runtime recorded, spent by the simulation.

Ten applications of the tasks process, an hour apart, each answered at once: the only time an
application takes is its registry call's, hand-set here on the clock the runtime times calls
with. So the simulation's lead times are the learned latencies themselves.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.runtime.conftest import bundle
from webapp.db.models import InstanceEvent
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime import calls
from webapp.runtime.engine import Runtime
from webapp.simulation.model import learn
from webapp.simulation.report import latency_lines, router_for
from webapp.simulation.run import simulate
from webapp.simulation.staffing import HOURS_PER_WEEK

from .conftest import MONDAY, Clock, arrival

# Milliseconds each application's lookup takes, in order of arrival.
DURATIONS = (120.0, 80.0, 40.0, 200.0, 60.0, 100.0, 20.0, 180.0, 140.0, 160.0)
WEEK_END = MONDAY + timedelta(days=7)
STAFFED = {"Applicant": [1] * HOURS_PER_WEEK}


class Stopwatch:
    """The perf_counter the runtime times registry calls with, moved by the registry."""

    def __init__(self) -> None:
        self.seconds = 50.0

    def perf_counter(self) -> float:
        return self.seconds


@pytest.fixture
def history(sqlite_url, monkeypatch):
    """Run the ten applications; each lookup takes its hand-set duration."""
    watch = Stopwatch()
    monkeypatch.setattr(calls, "time", watch)
    taking = iter(DURATIONS)

    def lookup(key: str) -> dict:
        watch.seconds += next(taking, 0.0) / 1000
        return {"key": key}

    clock = Clock()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    runtime = Runtime(
        make_session_factory(engine), {"registry.lookup": lookup}, {"service_term": "PT15M"},
        clock=clock,
    )  # fmt: skip
    runtime.deploy(bundle("tasks.bpmn", "apply.schema.json"))
    for n in range(len(DURATIONS)):
        clock.now = arrival(n)
        view = runtime.start("tasks", {"channel": "online"})
        runtime.complete(view.ready_tasks[0].id, {"who": f"person {n}"})
    yield runtime
    engine.dispose()


def leads(runtime: Runtime, model, seed: int) -> list[float]:
    """Return the simulated lead times (seconds) of one seeded run, in order of ending."""
    with runtime.transaction() as session:
        router = router_for(runtime, session, model, model.version)
    return [lead for *_kind, lead, _end in simulate(model, router, STAFFED, seed).leads]


def test_model_learns_each_calls_hand_set_duration_as_the_services_latency(history):
    with history.transaction() as session:
        model = learn(session, "tasks", MONDAY, WEEK_END)
    lookup = model.services["Task_Lookup"]
    assert lookup["calls"] == 10 and lookup["latency_ms"] == sorted(DURATIONS)
    # Nearest rank of 20, 40, ... 200: p50 the 5th, p90 the 9th, p99 the 10th.
    learned = model.as_json()["services"]["Task_Lookup"]["latency_ms"]
    assert learned == {"count": 10, "p50": 100.0, "p90": 180.0, "p99": 200.0}
    # The duration is not part of the answer a simulated write would give.
    assert all(calls.DURATION not in answer for answer in model.answers["Task_Lookup"])
    assert latency_lines(model.as_json()) == [
        "registry latency learned from the log, ms:",
        "  Task_Lookup: p50 100.0, p90 180.0, p99 200.0 (10 of 10 calls timed)",
    ]


def test_each_simulated_call_takes_a_learned_latency_drawn_the_same_for_a_seed(history):
    with history.transaction() as session:
        model = learn(session, "tasks", MONDAY, WEEK_END)
    first = leads(history, model, seed=4)
    assert len(first) == 10
    assert {round(lead * 1000, 3) for lead in first} <= set(DURATIONS)
    assert len(set(first)) > 1
    assert leads(history, model, seed=4) == first
    runs = [leads(history, model, seed) for seed in range(5, 10)]
    assert any(run != first for run in runs)


def test_a_log_written_before_calls_were_timed_gives_zero_latency_and_says_so(history):
    with history.transaction() as session:
        for row in session.scalars(
            select(InstanceEvent).where(InstanceEvent.task_type == "ServiceTask")
        ):
            row.data = calls.without_duration(row.data)
    with history.transaction() as session:
        model = learn(session, "tasks", MONDAY, WEEK_END)
    assert model.services["Task_Lookup"]["latency_ms"] == []
    assert model.services["Task_Lookup"]["calls"] == 10
    assert leads(history, model, seed=4) == [0.0] * 10
    assert latency_lines(model.as_json()) == [
        "registry latency learned from the log, ms:",
        "  Task_Lookup: no call timed in the log (0 of 10 calls): taken as zero",
    ]
