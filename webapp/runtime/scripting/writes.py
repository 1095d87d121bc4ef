"""The keys of service writes: an operator that writes takes an idempotency key, which the
runtime gives it from the running step's instance and task, never the diagram.
"""

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The parameter of a service operator that writes: the runtime gives it, never the diagram.
IDEMPOTENCY_KEY = "idempotency_key"
# What the writes of the running step are keyed by: its instance's business key.
_WRITE_SCOPE: ContextVar[str | None] = ContextVar("write_scope", default=None)


def takes_idempotency_key(operator_: Callable) -> bool:
    """Tell whether a service operator writes, and so takes the key the runtime gives it."""
    return IDEMPOTENCY_KEY in inspect.signature(operator_).parameters


@contextmanager
def writes_keyed_by(scope: str) -> Iterator[None]:
    """Key the writes of the service tasks run inside by scope (an instance's business key)."""
    token = _WRITE_SCOPE.set(scope)
    try:
        yield
    finally:
        _WRITE_SCOPE.reset(token)


def idempotency_key(scope: str, task) -> str:
    """Return the key of a service task's write: `<scope>:<element id>`, plus its iteration.

    The key is the same each time the step runs the task again (a retry after a fault or a
    crash), and differs for each instance of a multi-instance or loop and each element.
    """
    marks = []
    node = task
    while node is not None:
        for name in ("key_or_index", "iteration"):
            if name in node.internal_data:
                marks.append(str(node.internal_data[name]))
        parent = node.parent
        workflow = node.workflow
        if parent is None and workflow is not workflow.top_workflow:
            parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        node = parent
    return ":".join([scope, task.task_spec.bpmn_id, *reversed(marks)])
