"""How long each registry call of a step took, for the event that records the call.

Every event of a step carries the step's time, so a call's duration is not in the log unless
it is written down: the script engine times the operator call alone, the step keeps the
durations by workflow task, and the event that records the call (`task_completed`,
`incident_opened`, or `error_thrown` for a business error) carries it as `duration_ms` in its
data.
"""

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar

# The key of a call's duration (milliseconds) in its event's data: not a field of the task.
DURATION = "duration_ms"

_DURATIONS: ContextVar[MutableMapping | None] = ContextVar("call_durations", default=None)


@contextmanager
def timed_into(durations: MutableMapping) -> Iterator[None]:
    """Keep the duration of each service call made inside in `durations`, by task id."""
    token = _DURATIONS.set(durations)
    try:
        yield
    finally:
        _DURATIONS.reset(token)


def timed(task, call, /, **params):
    """Make a registry call and note how long it took, when a step is keeping durations.

    Only the call is timed (time.perf_counter): a failed call's duration is kept too.
    """
    started = time.perf_counter()
    try:
        return call(**params)
    finally:
        durations = _DURATIONS.get()
        if durations is not None:
            durations[task.id] = round((time.perf_counter() - started) * 1000, 3)


def with_duration(data: dict | None, durations: MutableMapping, task) -> dict | None:
    """Return an event's data with the duration of the task's call, when it made one."""
    if task is None or task.id not in durations:
        return data
    return {**(data or {}), DURATION: durations[task.id]}


def without_duration(data: dict | None) -> dict | None:
    """Return a `task_completed` event's data as the fields the task changed."""
    if not data or DURATION not in data:
        return data
    return {key: value for key, value in data.items() if key != DURATION} or None
