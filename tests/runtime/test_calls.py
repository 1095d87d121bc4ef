"""A registry call's duration is measured around the call alone and written on its event."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp.analytics.trace import instance_trace
from webapp.db.session import make_session_factory
from webapp.runtime import calls
from webapp.runtime.engine import Runtime

from .conftest import bundle


class Stopwatch:
    """A perf_counter the registry below moves by hand: each call takes its set time."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def perf_counter(self) -> float:
        return self.seconds


@pytest.fixture
def stopwatch(monkeypatch) -> Stopwatch:
    watch = Stopwatch()
    monkeypatch.setattr(calls, "time", watch)
    return watch


@pytest.fixture
def rt(engine, registry, stopwatch) -> Runtime:
    """A runtime whose registry takes 42.5 ms a call, answered or not."""

    def lookup(key: str) -> dict:
        stopwatch.seconds += 0.0425
        return registry.lookup(key)

    return Runtime(
        make_session_factory(engine), {"registry.lookup": lookup}, {"service_term": "PT15M"}
    )


def events(rt: Runtime, instance_id: int, kind: str) -> dict:
    """Return the data of an instance's events of one kind, by BPMN id."""
    return {e.bpmn_id: e.data for e in rt.instance(instance_id).events if e.kind == kind}


def apply(rt: Runtime, who: str):
    """Start the tasks process and complete its application as `who`."""
    rt.deploy(bundle("tasks.bpmn", "apply.schema.json"))
    view = rt.start("tasks", {})
    return rt.complete(view.ready_tasks[0].id, {"who": who})


def test_a_registry_calls_completion_carries_the_calls_duration_and_no_other_event_does(rt):
    view = apply(rt, "aigerim")
    completed = events(rt, view.id, "task_completed")
    assert completed["Task_Lookup"] == {"found": {"key": "aigerim"}, calls.DURATION: 42.5}
    assert completed["Task_Apply"] == {"who": "aigerim"}
    assert calls.DURATION not in completed["Task_Greet"]
    # The duration is the event's, not a field of the instance's data.
    assert calls.DURATION not in view.data
    with rt.transaction() as session:
        trace = instance_trace(session, view.id)
    (lookup,) = [e for e in trace.events if e.bpmn_id == "Task_Lookup" and e.changes]
    assert [c.field for c in lookup.changes] == ["found"]
    assert calls.DURATION not in lookup.data_after


def test_a_failed_call_opens_its_incident_with_its_duration_and_the_retry_records_its_own(
    rt, stopwatch
):
    view = apply(rt, "flaky")
    assert events(rt, view.id, "incident_opened")["Task_Lookup"] == {
        "message": "the registry did not answer in time",
        "attempts": 1,
        calls.DURATION: 42.5,
    }
    assert rt.run_due_jobs(now=datetime.now(UTC) + timedelta(minutes=1)) == 1
    completed = events(rt, view.id, "task_completed")["Task_Lookup"]
    assert completed == {"found": {"key": "flaky"}, calls.DURATION: 42.5}


def test_a_business_error_a_registry_answered_is_thrown_with_the_calls_duration(rt):
    view = apply(rt, "nobody")
    thrown = events(rt, view.id, "error_thrown")["Task_Lookup"]
    assert thrown["error_code"] == "not_found" and thrown[calls.DURATION] == 42.5
    assert calls.DURATION not in view.data


def test_only_the_calls_made_inside_a_step_are_timed(stopwatch):
    task = type("Task", (), {"id": "t"})()

    def call(key: str) -> dict:
        stopwatch.seconds += 0.005
        return {"key": key}

    kept: dict = {}
    with calls.timed_into(kept):
        assert calls.timed(task, call, key="inside") == {"key": "inside"}
    assert calls.timed(type("Task", (), {"id": "u"})(), call, key="outside") == {"key": "outside"}
    assert kept == {"t": 5.0}
