"""Running the engine within a step: until it waits, with failures turned into BPMN errors
or incidents, and the SpiffWorkflow 3.2 gaps closed where they are met."""

import traceback
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import calls
from .scripting import writes_keyed_by

if TYPE_CHECKING:
    from .steps import Step

MAX_ROUNDS = 100
TOO_DEEP = (
    "the task tree is deeper than SpiffWorkflow can walk (a loop drawn with a gateway and a"
    " back edge ran about 250 times): model it as a standard loop or a multi-instance task"
)


def advance(step: "Step") -> None:
    """Run the engine until only user tasks and waiting events are left, or a task fails.

    The service tasks that write are keyed by the instance's business key, so a step run
    again after a crash sends the registries the keys of its first run. Each call's duration
    is kept in `step.durations` for the event that records it.
    """
    instance = step.instance
    with (
        writes_keyed_by(instance.business_key or f"instance-{instance.id}"),
        calls.timed_into(step.durations),
    ):
        _advance(step)


def _advance(step: "Step") -> None:
    """Run engine rounds until nothing runs on its own; stop at the first kept failure."""
    workflow = step.workflow
    for _ in range(MAX_ROUNDS):
        try:
            workflow.do_engine_steps()
        except Exception as error:  # noqa: BLE001  (diagram code fails in many ways)
            if _handle_failure(step, error):
                continue
            return
        if _interrupt(workflow):
            continue
        if workflow.get_next_task(state=TaskState.READY, manual=False) is None:
            # Nothing unfinished is complete, even when no End task ran: an interrupting
            # event subprocess cancels the path to it.
            workflow.is_completed()
            return


def _interrupt(workflow) -> bool:
    """Let an interrupting event subprocess that has fired cancel the rest of its process.

    SpiffWorkflow 3.2 ignores `isInterrupting` on the start events of event subprocesses;
    deployment marks the interrupting ones (see `specs`) and the step does the cancelling.
    """
    interrupted = False
    for task_id, subprocess in list(workflow.subprocesses.items()):
        task = workflow.get_task_from_id(task_id)
        if task.internal_data.get("interrupted") or not any(
            start.task_spec.extensions.get("interrupting")
            for start in subprocess.get_tasks(state=TaskState.COMPLETED)
            if isinstance(start.task_spec, StartEvent)
        ):
            continue
        task.internal_data["interrupted"] = interrupted = True
        # The process's end join is kept, as SpiffWorkflow's own cancelling does: the event
        # subprocess ends the process through it.
        ends = {task.workflow.spec.end.name, "End"}
        for other in task.workflow.get_tasks(
            state=TaskState.NOT_FINISHED_MASK, skip_subprocesses=True
        ):
            if other.has_state(TaskState.NOT_FINISHED_MASK) and not (
                other.is_descendant_of(task)
                or task.is_descendant_of(other)
                or other is task
                or other.task_spec.name in ends
            ):
                other.cancel()
    return interrupted


def _handle_failure(step: "Step", error: Exception) -> bool:
    """Throw a business error as a BPMN error event; keep anything else as an incident."""
    # A failed instance of a multi-instance task is missed by a state-filtered search,
    # which stops below the STARTED parent: filter the whole tree instead.
    failed = [t for t in step.workflow.get_tasks() if t.state == TaskState.ERROR]
    task = failed[-1] if failed else getattr(error, "task", None)
    cause = getattr(error, "exception", None) or error
    code = getattr(cause, "error_code", None)
    if code and task is not None and _throw_error(step, task, code, str(cause)):
        return True
    trace = "".join(traceback.format_exception(cause))
    step.failures.append((task, str(cause) or type(cause).__name__, trace))
    return False


def _throw_error(step: "Step", task, code: str, message: str) -> bool:
    """Throw a BPMN error from a failed task; tell whether a boundary or subprocess caught it."""
    payload = {"error_code": code, "error_message": message}
    event = BpmnEvent(ErrorEventDefinition(code, code=code), payload, target=task.workflow)
    catchers = []
    if isinstance(task.parent.task_spec, BoundaryEventSplit):
        catchers = [
            t
            for t in task.parent.children
            if t is not task and t.state == TaskState.WAITING and t.task_spec.catches(t, event)
        ]
    for catcher in catchers:
        catcher.set_data(**payload)
        catcher.task_spec.catch(catcher, event)
        catcher.task_spec._update(catcher)
    workflow = step.workflow
    if not catchers:
        uncaught = len(workflow.bpmn_events)
        workflow.catch(event)
        if len(workflow.bpmn_events) > uncaught:
            workflow.bpmn_events.pop()
            return False
    step.record("error_thrown", task, calls.with_duration(payload, step.durations, task))
    return True


def check_reachable(step: "Step", tasks: list) -> None:
    """Refuse to go on when SpiffWorkflow can no longer walk its own task tree.

    Its iterators stop at depth 1000, which a back-edge loop reaches after about 250
    rounds; past that, tasks vanish from every query and the instance would end silently
    with wrong data.
    """
    walked = sum(1 for task in tasks if task.workflow is step.workflow)
    if walked < len(step.workflow.tasks):
        step.failures.append((None, TOO_DEEP, ""))
