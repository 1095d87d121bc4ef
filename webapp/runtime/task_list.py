"""The task list read model: one row per open user task, written by the step that opens it."""

import logging
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, bindparam, insert, or_, select, update

from webapp.db.models import HumanTask, HumanTaskKey

from . import scripting
from .assignment import starter_hold
from .audit import called_process
from .views import TaskView

if TYPE_CHECKING:
    from .steps import Step

log = logging.getLogger(__name__)

ACTIVE_TASK_STATES = ("ready", "claimed")
# A row still open, as a condition of fixed text: an `IN` list is written anew at each execution.
IS_ACTIVE = or_(*(HumanTask.state == state for state in ACTIVE_TASK_STATES))
OPEN_TASKS = (
    select(*(getattr(HumanTask, name) for name in TaskView.__dataclass_fields__))
    .where(
        HumanTask.instance_id == bindparam("instance_id"),
        IS_ACTIVE,
    )
    .order_by(HumanTask.created_at, HumanTask.id)
)
# One statement per closed row, the same text each time (as `IS_ACTIVE`), which can be prepared.
CLOSE_TASK = update(HumanTask).where(HumanTask.id == bindparam("task_id"))
INSERT_TASKS = insert(HumanTask)
INSERT_TASK_KEYS = insert(HumanTaskKey)


def open_rows(db: Connection, instance_id: int) -> dict[str, TaskView]:
    """Return an instance's open task-list rows, by task id."""
    rows = db.execute(OPEN_TASKS, {"instance_id": instance_id})
    return {row.id: TaskView(*row) for row in rows}


def sync(step: "Step", tasks: list) -> tuple[TaskView, ...]:
    """Open a row per new ready user task, close the rows of the others; return the open ones.

    Which rows to write follows from the state before the step; the rows that stay open
    are read (once) only for the instance view.
    """
    ready = {str(t.id): t for t in tasks if t.state == TaskState.READY and t.task_spec.manual}
    before = step.ready_before
    kept = before.keys() & ready.keys()
    views = step.open_rows(kept) if kept else []
    gone = before.keys() - ready.keys()
    if gone:
        closed = []
        for task_id in sorted(gone):
            done = _state(step.task(task_id)) == TaskState.COMPLETED
            closed.append(
                {
                    "task_id": task_id,
                    "state": "completed" if done else "cancelled",
                    "completed_at": step.now,
                    "completed_by": step.actor if done else None,
                }
            )
        step.db.execute(CLOSE_TASK, closed)
    new = {i: t for i, t in ready.items() if i not in before}
    rows = [_row(step, i, t) for i, t in new.items()]
    if rows:
        step.db.execute(INSERT_TASKS, rows)
        search_fields = step.rules.search_fields
        keys = [{"task_id": i, "key": k} for i, t in new.items() for k in _keys(t, search_fields)]
        if keys:
            step.db.execute(INSERT_TASK_KEYS, keys)
    fields = TaskView.__dataclass_fields__
    views += (TaskView(**{k: row.get(k) for k in fields}) for row in rows)
    return tuple(sorted(views, key=lambda view: (view.created_at, view.id)))


def _state(task) -> TaskState | None:
    """Return a task's state, None for a task no longer in the tree."""
    return task.state if task is not None else None


def _row(step: "Step", task_id: str, task) -> dict:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    properties = extensions.get("properties", {})
    due_in = _property(step, task, properties.get("dueIn"))
    due_at = None
    if due_in:
        parsed = TimerEventDefinition.parse_iso_duration(str(due_in))
        due_at = step.now + TimerEventDefinition.get_timedelta_from_start(parsed, step.now)
    assignee = _property(step, task, properties.get("assignee"))
    row = {
        "id": task_id,
        "instance_id": step.instance.id,
        "process_id": step.info.process_id,
        "business_key": step.instance.business_key,
        "bpmn_id": spec.bpmn_id,
        "called_process": called_process(task),
        "name": getattr(spec, "bpmn_name", None) or spec.bpmn_id,
        "lane": spec.lane,
        "role": spec.lane.lower() if spec.lane else None,
        "assignee": str(assignee) if assignee is not None else None,
        "form": properties.get("formJsonSchemaFilename"),
        "ui_form": properties.get("formUiSchemaFilename"),
        "instructions": _instructions(task, extensions.get("instructionsForEndUser")),
        "state": "ready",
        "claimed_by": None,
        "claimed_at": None,
        "channel": _text(task.data.get(step.rules.channel_field or ""), 60),
        "due_at": due_at,
        "created_at": step.now,
    }
    # `claimedByStarter`: a counter application starts in the hands of the clerk who started
    # it, with no claim step in between.
    if step.new and _property(step, task, properties.get("claimedByStarter")):
        where = starter_hold(step.rules.directory, step.session, step.actor, row["role"])
        if where is not None:
            row.update(state="claimed", claimed_by=step.actor, claimed_at=step.now)
            step.record("claimed", task, where or None)
    return row


def _keys(task, search_fields: tuple[str, ...]) -> set[str]:
    """Return the values of the runtime's search fields in the task's data."""
    values = (_text(task.data.get(name)) for name in search_fields)
    return {value for value in values if value}


def _text(value, limit: int = 120) -> str | None:
    """Return a scalar value as a text of at most `limit` characters; None for others."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:limit]


def _property(step: "Step", task, expression: str | None):
    """Evaluate a task property's expression over the task's data; None when it fails."""
    if not expression:
        return None
    try:
        return step.workflow.script_engine.evaluate(task, expression)
    except Exception as error:  # noqa: BLE001  (a diagram's expression over its data)
        log.warning("property %r of %s: %s", expression, task.task_spec.bpmn_id, error)
        return None


def _instructions(task, text: str | None) -> str | None:
    """Render a task's instructions over its data, or say why they could not be."""
    if not text:
        return None
    try:
        return scripting.render(text, task.data)
    except Exception as error:  # noqa: BLE001  (an instructions template over task data)
        return f"{text}\n\n(instructions could not be rendered: {error})"
