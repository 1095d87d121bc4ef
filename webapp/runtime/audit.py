"""The audit log: the events a step appends, and one appended outside a step."""

from collections.abc import Mapping
from datetime import datetime

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, insert

from webapp.db.models import InstanceEvent
from webapp.db.session import dumps_json

from . import calls

INSERT_EVENTS = insert(InstanceEvent)
# The columns a step's events fill, in the order `event` builds them.
EVENT_COLUMNS = (
    "instance_id", "process_id", "version", "at", "kind", "task_id", "bpmn_id",
    "called_process", "name", "task_type", "actor", "data",
)  # fmt: skip
COPY_EVENTS = f"COPY {InstanceEvent.__tablename__} ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
EVENT_KINDS = {
    TaskState.WAITING: "task_waiting",
    TaskState.COMPLETED: "task_completed",
    TaskState.CANCELLED: "task_cancelled",
    TaskState.ERROR: "task_error",
}


def called_process(task) -> str | None:
    """Return the process a call activity started that a task runs in, or None for its own.

    Embedded subprocesses are walked through: their elements are drawn in the diagram of the
    process around them.
    """
    workflow = task.workflow
    while workflow is not workflow.top_workflow:
        caller = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if isinstance(caller.task_spec, CallActivity):
            return workflow.spec.name
        workflow = caller.workflow
    return None


def event(
    instance_id: int,
    process_id: str,
    version: int,
    at: datetime,
    kind: str,
    task=None,
    data: dict | None = None,
    actor: str | None = None,
) -> dict:
    """Return the row of an audit event, about a workflow task or the instance."""
    spec = task.task_spec if task is not None else None
    return {
        "instance_id": instance_id,
        "process_id": process_id,
        "version": version,
        "at": at,
        "kind": kind,
        "task_id": str(task.id) if task is not None else None,
        "bpmn_id": getattr(spec, "bpmn_id", None),
        "called_process": called_process(task) if task is not None else None,
        "name": getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None),
        "task_type": type(spec).__name__ if spec is not None else None,
        "actor": actor,
        "data": data,
    }


def task_changes(
    record, before: dict, ready_before: dict, tasks: list, actor, durations: Mapping
) -> None:
    """Record an event for each task whose state the step changed, through `record`.

    `before` holds the task states the step found; `ready_before` its open user tasks;
    `durations` the time each registry call of the step took, which its completion carries.
    """
    for task in tasks:
        state = task.state
        if before.get(task.id) == state:
            continue
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None) is None:
            continue
        if state == TaskState.READY and spec.manual:
            record("task_ready", task, actor=None)
        elif state in EVENT_KINDS:
            data = None
            if state == TaskState.COMPLETED:
                parent = task.parent.data if task.parent is not None else {}
                data = {k: v for k, v in task.data.items() if parent.get(k, ...) != v}
                # Written as JSON by the engine's serializer, dates as text: no copy first.
                data = calls.with_duration(data or None, durations, task)
            by = actor if spec.manual and state == TaskState.COMPLETED else None
            record(EVENT_KINDS[state], task, data, actor=by)
    present = {str(task.id) for task in tasks}
    for task_id, task in ready_before.items():
        # A cancelled subprocess leaves the tree with its open user tasks in it.
        if task_id not in present:
            record("task_cancelled", task, actor=None)


def insert_events(db: Connection, events: list[dict]) -> None:
    """Append a step's events.

    On PostgreSQL they are copied in: for the twenty-odd events of a registration step, COPY
    cost the server about a fifth less CPU than an INSERT per row and the client half as much.
    Elsewhere one executemany.
    """
    if db.dialect.name != "postgresql":
        db.execute(INSERT_EVENTS, events)
        return
    with db.connection.dbapi_connection.cursor() as cursor, cursor.copy(COPY_EVENTS) as copy:
        for row in events:
            data = row["data"]
            # Written as the engine's JSON serializer writes the column, dates as text.
            copy.write_row([*(row[name] for name in EVENT_COLUMNS[:-1]),
                            None if data is None else dumps_json(data)])  # fmt: skip


def append(db: Connection, process_id: str, version: int, instance_id: int, **values) -> None:
    """Append one audit event to an instance outside a step (claims, dropped messages)."""
    db.execute(
        INSERT_EVENTS,
        {"instance_id": instance_id, "process_id": process_id, "version": version, **values},
    )
