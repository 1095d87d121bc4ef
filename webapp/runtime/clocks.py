"""Timers on the runtime's clock: SpiffWorkflow starts a duration timer from the wall clock.

A step runs at its own time (the runtime's clock, the worker's `--now`, a simulated history),
so a timer that starts waiting in it must fall due its duration after that time, not after the
moment the computer happened to run the step. SpiffWorkflow's own expiry (`event_value`) is
left on the wall clock, which its checks during the engine's steps read; the job that fires the
timer is due at the time noted here, which the step's waits read instead.
"""

from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition
from SpiffWorkflow.util.task import TaskState

DUE_AT = "due_at"  # the key, in a task's internal data, of when its timer's job is due
# Below this, the step's time is the wall clock's: nothing to note.
NEGLIGIBLE = timedelta(seconds=1)


def note_due_times(waiting_tasks, before: dict, now: datetime) -> None:
    """Note when each duration timer that started waiting in this step is due by `now`.

    `before` maps task ids to their state when the step began: a timer already waiting then
    was noted by an earlier step, on that step's clock.
    """
    skew = now - datetime.now(UTC)
    if abs(skew) < NEGLIGIBLE:
        return
    for task in waiting_tasks:
        if task.state != TaskState.WAITING or before.get(task.id) == TaskState.WAITING:
            continue
        definition = getattr(task.task_spec, "event_definition", None)
        value = task.internal_data.get("event_value")
        if isinstance(definition, DurationTimerEventDefinition) and isinstance(value, str):
            task.internal_data[DUE_AT] = (datetime.fromisoformat(value) + skew).isoformat()


def timer_value(task):
    """Return what a waiting timer's job is due by: the noted time, else SpiffWorkflow's."""
    return task.internal_data.get(DUE_AT) or task.internal_data.get("event_value")
