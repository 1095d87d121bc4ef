"""An instance's data as plain JSON: what its open tasks see, or its final data."""

import json

from SpiffWorkflow.util.task import TaskState

from webapp.db.session import dumps_json

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def json_safe(value):
    """Return data as plain JSON types (dates become ISO strings)."""
    return json.loads(dumps_json(value))


def current_data(workflow, tasks: list | None = None) -> dict:
    """Return an instance's data: what its open tasks see, or its final data once completed."""
    tasks = list(workflow.get_tasks()) if tasks is None else tasks
    if workflow.completed:
        done = [t for t in tasks if t.state == TaskState.COMPLETED and t.workflow is workflow]
        last = max(done, key=lambda t: t.last_state_change, default=None)
        return json_safe(last.data) if last else {}
    merged: dict = {}
    for task in sorted((t for t in tasks if t.state & LIVE), key=lambda t: t.last_state_change):
        if task.state == TaskState.WAITING and task.parent is not None:
            # A join waiting for its other branches has no data of its own yet.
            merged.update(task.parent.data)
        merged.update(task.data)
    return json_safe(merged)
