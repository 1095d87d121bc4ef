"""Task queries answered as SpiffWorkflow's depth-first iterator answers them, for less CPU:
the `iterator` lever's walk (`webapp.runtime.levers`)."""

from collections.abc import Iterator

from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskFilter, TaskState


def _min_state(state: int) -> int:
    """Return the lowest state a query still descends through (as SpiffWorkflow decides)."""
    if state & TaskState.PREDICTED_MASK:
        return TaskState.MAYBE
    if state & TaskState.DEFINITE_MASK:
        return TaskState.FUTURE
    return TaskState.COMPLETED


def state_only(task_filter: TaskFilter) -> bool:
    """Tell whether a filter asks nothing but a state (and perhaps whether tasks are manual)."""
    return type(task_filter) in (TaskFilter, BpmnTaskFilter) and (
        task_filter.updated_ts == 0
        and task_filter.spec_name is None
        and task_filter.spec_class is None
        and getattr(task_filter, "catches_event", None) is None
        and getattr(task_filter, "lane", None) is None
    )


def depth_first(
    first: Task,
    task_filter: TaskFilter,
    end_at_spec: str | None = None,
    max_depth: int = 1000,
    skip_subprocesses: bool = False,
) -> Iterator[Task]:
    """Yield the tasks a depth-first `BpmnTaskIterator` yields, in its order.

    Like the stock iterator, a task's children (and its subprocess's root) are taken when the
    task is reached, so a tree changed by the caller between two tasks is walked alike. The
    depth is each task's own; the stock count can drift after a subprocess, which matters only
    beyond its 1,000 levels.
    """
    state, manual = task_filter.state, task_filter.manual
    min_state = _min_state(state)
    matches = None if state_only(task_filter) else task_filter.matches
    finished_only = state <= TaskState.FINISHED_MASK
    subprocesses = first.workflow.top_workflow.subprocesses
    stack = [(first, 0)]
    while stack:
        task, depth = stack.pop()
        subprocess = subprocesses.get(task.id) if subprocesses else None
        if depth < max_depth and task.task_spec.name != end_at_spec:
            if subprocess is not None:
                following = task.children
                if not (
                    skip_subprocesses or (task._state >= TaskState.FINISHED_MASK and finished_only)
                ):
                    following.insert(0, subprocess.task_tree)
                stack.extend([(child, depth + 1) for child in reversed(following)])
            elif task._children and task._state >= min_state:
                get, depth = task.workflow.tasks.get, depth + 1
                stack.extend([(get(child), depth) for child in reversed(task._children)])
        if matches is None:
            if task._state & state and (manual is None or task.task_spec.manual == manual):
                yield task
        elif matches(task):
            yield task


def tree_position(task: Task) -> list[int]:
    """Return the child indexes from the root down to a task: sorted, depth-first order."""
    position, tasks = [], task.workflow.tasks
    while task._parent is not None:
        parent = tasks[task._parent]
        position.append(parent._children.index(task.id))
        task = parent
    position.reverse()
    return position


def ready_tasks(workflow, manual: bool | None) -> list[Task]:
    """Return a workflow's READY tasks (manual or not, or both) in depth-first order.

    The walk would find the same: a READY task's ancestors have all run, so none is a predicted
    task the walk would not descend through, and in a workflow without subprocesses every task
    of the tree is in its table.
    """
    ready = TaskState.READY
    found = [
        task
        for task in workflow.tasks.values()
        if task._state == ready and (manual is None or task.task_spec.manual == manual)
    ]
    if len(found) > 1:
        found.sort(key=tree_position)
    return found
