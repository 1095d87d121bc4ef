"""A step continues from the workflow the instance's last committed step left in memory, and
restores the saved state whenever the row no longer holds what that step saved."""

from datetime import UTC, datetime, timedelta

import pytest

from webapp.db.session import make_session_factory
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import Conflict, InvalidData
from webapp.runtime.warm import WarmWorkflows

from .conftest import bundle

SMOKE = ("smoke.bpmn", "review.schema.json")


def counting_loads(runtime: Runtime) -> list[int]:
    """Count the runtime's restores of saved state, one entry per restore."""
    loads: list[int] = []
    load = runtime.serializer.load

    def counted(*args, **kwargs):
        loads.append(1)
        return load(*args, **kwargs)

    runtime.serializer.load = counted
    return loads


def test_a_kept_workflow_is_taken_once_and_only_for_the_state_it_was_saved_as():
    warm = WarmWorkflows(size=2)
    warm.keep(1, b"saved", "workflow")
    assert warm.take(1, b"changed since") is None
    assert warm.take(1, b"saved") is None  # a mismatch drops it
    warm.keep(1, b"saved", "workflow")
    assert warm.take(1, b"saved") == "workflow"
    assert warm.take(1, b"saved") is None


def test_the_oldest_kept_workflow_goes_first_when_full_and_size_zero_keeps_none():
    warm = WarmWorkflows(size=2)
    for instance_id in (1, 2, 3):
        warm.keep(instance_id, b"s", instance_id)
    assert [warm.take(i, b"s") for i in (1, 2, 3)] == [None, 2, 3]
    off = WarmWorkflows(size=0)
    off.keep(1, b"s", "workflow")
    assert off.take(1, b"s") is None


def test_steps_after_a_committed_step_restore_nothing_and_end_as_a_restored_run(
    runtime, engine, registry
):
    runtime.deploy(bundle(*SMOKE))
    cold = Runtime(
        make_session_factory(engine), {"registry.lookup": registry.lookup}, warm_workflows=0
    )
    loads = counting_loads(runtime)
    views = []
    for steps in (runtime, cold):
        view = steps.start("smoke", {"count": 2, "who": "alice"})
        assert steps.task_data(view.ready_tasks[0].id)["doubled"] == 4
        done = steps.complete(view.ready_tasks[0].id, {"decision": "accept"}, actor="clerk1")
        views.append(
            (done.status, done.data, [(e.kind, e.bpmn_id) for e in steps.instance(view.id).events])
        )
    assert loads == []
    warm_run, cold_run = views
    assert warm_run[0] == "completed"
    assert {**warm_run[1], "application_number": None} == {
        **cold_run[1],
        "application_number": None,
    }
    assert warm_run[2] == cold_run[2]


def test_a_row_another_process_changed_is_restored_from_its_state(runtime, engine):
    runtime.deploy(bundle(*SMOKE))
    loads = counting_loads(runtime)
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    other = Runtime(make_session_factory(engine), {}, warm_workflows=0)
    assert other.run_due_jobs(now=datetime.now(UTC) + timedelta(minutes=61)) == 1
    with pytest.raises(Conflict):
        runtime.complete(view.ready_tasks[0].id, {"decision": "accept"}, actor="clerk1")
    assert len(loads) == 1 and runtime.instance(view.id).status == "completed"


def test_a_step_that_fails_leaves_nothing_in_memory_for_the_next(runtime):
    runtime.deploy(bundle(*SMOKE))
    loads = counting_loads(runtime)
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    task_id = view.ready_tasks[0].id
    with pytest.raises(InvalidData):
        runtime.complete(task_id, {"decision": "maybe"})
    done = runtime.complete(task_id, {"decision": "accept"})
    assert len(loads) == 1 and done.status == "completed"
