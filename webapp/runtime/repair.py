"""An administrator's repair of a running instance: its tokens modified (`variable_edit` edits
a variable), and what every repair shares: the cockpit's view of an instance, the reason, the
checks that it is still open and unchanged since it was shown.

Each repair is a step like any other: the instance row is locked, the workflow loaded, the
change made through SpiffWorkflow's own task API, the engine run until it waits, the state,
read models and an audit event (with the reason, and the value before and after or the tokens
after) saved in one transaction. The instance modification follows Camunda's: cancel a token,
start before an element, start after one.

SpiffWorkflow keeps tokens as a tree of tasks, each taking its data from its parent. A started
token is added the way SpiffWorkflow adds the branch of an event subprocess it triggers: a child
of the workflow's root (its start task), brought up to date by its spec. It carries the
instance's current data (edited variables included), not the data of the part of the tree it
hangs from. Repairs run through the runtime's own step machinery, as its administration
(retry, suspend, terminate) does."""

from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete

from webapp.db.models import Job

from . import records
from .errors import Conflict, InvalidData, NotFound
from .instance_data import LIVE, current_data

if TYPE_CHECKING:
    from .engine import Runtime
    from .steps import Step
    from .versions import VersionInfo

ENDED = ("completed", "terminated")
KINDS = ("cancel", "start_before", "start_after")
MAX_REASON = 500
STATES = {
    TaskState.READY: "ready",
    TaskState.WAITING: "waiting",
    TaskState.STARTED: "started",
    TaskState.ERROR: "failed",
}


@dataclass(frozen=True)
class Token:
    """A live task of an instance: where it stands, and whether it may be cancelled alone.

    `scope` names the subprocess or multi-instance element a token runs inside; such a token
    is cancelled with its scope's own token.
    """

    task_id: str
    bpmn_id: str
    name: str
    state: str
    scope: str | None

    @property
    def cancellable(self) -> bool:
        """Tell whether the token may be cancelled on its own."""
        return self.scope is None

    def to_dict(self) -> dict:
        """Return the token as JSON data."""
        return {
            "task_id": self.task_id,
            "bpmn_id": self.bpmn_id,
            "name": self.name,
            "state": self.state,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class Element:
    """A flow node of the instance's own process that a token may be started before."""

    id: str
    name: str
    kind: str


@dataclass(frozen=True)
class Operation:
    """One instruction of a modification: `cancel` a token (task id), or `start_before` or
    `start_after` an element (element id)."""

    kind: str
    target: str

    def to_dict(self) -> dict:
        """Return the operation as JSON data."""
        return {"kind": self.kind, "target": self.target}


@dataclass(frozen=True)
class Repairable:
    """What the cockpit shows of an instance to repair it; `lock_version` names its state."""

    instance_id: int
    status: str
    lock_version: int
    data: dict
    tokens: tuple[Token, ...]
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Preview:
    """The tokens before and right after a modification, for the state `lock_version` names.

    The tokens after are those the modification leaves before the engine runs on: applying it
    records them in its audit event.
    """

    instance_id: int
    lock_version: int
    operations: tuple[Operation, ...]
    before: tuple[Token, ...]
    after: tuple[Token, ...]


def tokens(workflow) -> tuple[Token, ...]:
    """Return the live tasks of a workflow and of its subprocesses, oldest first."""
    found = []
    for task in workflow.get_tasks(state=LIVE):
        spec = task.task_spec
        bpmn_id = getattr(spec, "bpmn_id", None)
        if bpmn_id is None:
            continue
        found.append(
            Token(
                task_id=str(task.id),
                bpmn_id=bpmn_id,
                name=getattr(spec, "bpmn_name", None) or bpmn_id,
                state=STATES[task.state],
                scope=_scope(task),
            )
        )
    return tuple(found)


def _scope(task) -> str | None:
    """Return the element a task runs inside (a subprocess, a multi-instance), or None."""
    if task.task_spec.name != task.task_spec.bpmn_id:
        return task.task_spec.bpmn_id  # a multi-instance's child, named `Element [child]`
    workflow = task.workflow
    if workflow is not workflow.top_workflow:
        return workflow.top_workflow.get_task_from_id(workflow.parent_task_id).task_spec.bpmn_id
    return None


def elements(spec) -> tuple[Element, ...]:
    """Return the flow nodes of a process that a token may be started before, by id."""
    found = [
        Element(s.bpmn_id, getattr(s, "bpmn_name", None) or s.bpmn_id, type(s).__name__)
        for s in spec.task_specs.values()
        if _startable(s)
    ]
    return tuple(sorted(found, key=lambda element: element.id))


def _startable(spec) -> bool:
    bpmn_id = getattr(spec, "bpmn_id", None)
    return (
        bpmn_id is not None
        and spec.name == bpmn_id
        and not isinstance(spec, StartEvent | BoundaryEvent)
    )


def _element(info: "VersionInfo", element_id: str):
    """Return the spec of an element a token may start at, or refuse saying why not."""
    spec = info.spec.task_specs.get(element_id)
    if spec is not None and _startable(spec):
        return spec
    if spec is not None and isinstance(spec, StartEvent):
        raise Conflict(f"{element_id} is a start event: start before the element after it")
    if spec is not None and isinstance(spec, BoundaryEvent):
        raise Conflict(f"{element_id} is a boundary event: start before the task it leads to")
    for name, subprocess in info.subprocess_specs.items():
        if element_id in subprocess.task_specs:
            raise Conflict(
                f"{element_id} lies inside subprocess {name}: start before the subprocess instead"
            )
    raise NotFound(f"process {info.process_id} has no element {element_id!r}")


def _after(info: "VersionInfo", element_id: str):
    """Return the element a token started after `element_id` goes to: its one outgoing flow's."""
    spec = _element(info, element_id)
    following = []
    for output in spec.outputs:
        if isinstance(output, BoundaryEventJoin):
            continue  # where the task's boundary events meet it again, not a flow of its own
        if isinstance(output, BoundaryEventSplit):
            output = info.spec.task_specs[output.name.removesuffix(".BoundaryEventSplit")]
        if getattr(output, "bpmn_id", None) is not None:
            following.append(output)
    if len(following) != 1:
        raise Conflict(
            f"{element_id} has {len(following)} outgoing flows: start before the element"
            " a token should go to instead"
        )
    return following[0]


def _start_before(step: "Step", spec, carried: dict) -> None:
    """Add a token at an element: a new branch under the root, carrying the instance's data."""
    entry = spec
    split = step.workflow.spec.task_specs.get(f"{spec.name}.BoundaryEventSplit")
    if split is not None:
        # The task's boundary events are armed by the split in front of it.
        entry = split
    root = step.workflow.task_tree
    task = root._add_child(entry, TaskState.FUTURE)
    # As SpiffWorkflow marks the branches it triggers: never pruned as an unpredicted child.
    task.triggered = True
    task.data = deepcopy(carried)
    # Brought up to date as SpiffWorkflow's own branch reset does: its path predicted, then
    # updated, which lays the parent's data over the task's. The root holds the start data,
    # older than what the token carries, so it lends none while the token is updated.
    entry._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
    start_data, root.data = root.data, {}
    try:
        entry._update(task)
    finally:
        root.data = start_data
    if entry is split and task.state == TaskState.READY:
        task.run()


def _cancel(step: "Step", task_id: str) -> None:
    """Cancel a token; a task's boundary events go with it, as they would in any engine."""
    task = step.task(task_id)
    if task is None or not task.has_state(LIVE):
        raise Conflict(f"token {task_id} is no longer live in instance {step.instance.id}")
    if getattr(task.task_spec, "bpmn_id", None) is None or _scope(task) is not None:
        raise Conflict(
            f"token {task_id} runs inside {_scope(task)}: cancel that element's token instead"
        )
    parent = task.parent
    if isinstance(parent.task_spec, BoundaryEventSplit) and not isinstance(
        task.task_spec, BoundaryEvent
    ):
        for sibling in parent.children:
            if sibling.has_state(LIVE):
                _cancel_task(step, sibling)
    else:
        _cancel_task(step, task)


def _cancel_task(step: "Step", task) -> None:
    """Cancel one live task, a failed one too (which SpiffWorkflow counts as finished)."""
    if task.state != TaskState.ERROR:
        task.cancel()
        return
    task._set_state(TaskState.CANCELLED)
    task._drop_children()
    task.task_spec._on_cancel(task)


def _modify(step: "Step", operations: Sequence[Operation]) -> tuple[Token, ...]:
    """Apply the operations to a step's workflow and return the tokens it is left with."""
    check_open(step)
    if not operations:
        raise InvalidData("a modification needs an operation", {"operations": "none given"})
    # The data of the instance's own tokens: what a subprocess or a multi-instance keeps of
    # its own (an item variable, say) stays there, or a new token would start with it.
    own = [t for t in step.workflow.get_tasks(state=LIVE, skip_subprocesses=True) if not _scope(t)]
    carried = current_data(step.workflow, own)
    for operation in operations:
        if operation.kind == "cancel":
            _cancel(step, operation.target)
        elif operation.kind == "start_before":
            _start_before(step, _element(step.info, operation.target), carried)
        elif operation.kind == "start_after":
            _start_before(step, _after(step.info, operation.target), carried)
        else:
            raise InvalidData(
                f"unknown operation {operation.kind!r}",
                {"operations": f"each kind must be one of {', '.join(KINDS)}"},
            )
    left = tokens(step.workflow)
    if not left:
        raise Conflict(
            f"instance {step.instance.id} would have no token left: terminate it instead"
        )
    return left


def check_open(step: "Step") -> None:
    """Refuse to repair an instance that has ended."""
    if step.instance.status in ENDED:
        raise Conflict(f"instance {step.instance.id} is {step.instance.status}: nothing to repair")


def check_version(step: "Step", expected: int | None) -> None:
    """Refuse to repair an instance changed since the administrator saw it."""
    if expected is not None and step.instance.lock_version != expected:
        raise Conflict(f"instance {step.instance.id} changed since it was shown: look at it again")


def checked_reason(reason: str | None) -> str:
    """Return the reason for a repair, or refuse a missing or overlong one."""
    text = (reason or "").strip()
    if not text:
        raise InvalidData("a repair needs a reason", {"reason": "a reason is required"})
    if len(text) > MAX_REASON:
        raise InvalidData("the reason is too long", {"reason": f"at most {MAX_REASON} characters"})
    return text


def _read(runtime: "Runtime", instance_id: int, look: Callable[["Step"], object]):
    """Run `look` over the instance's workflow loaded without a lock; roll back, whatever it did."""
    with runtime.session_factory() as session:
        step = runtime._new_step(
            session, records.read(session.connection(), instance_id, lock=False), None
        )
        try:
            return look(step)
        finally:
            session.rollback()


def repairable(runtime: "Runtime", instance_id: int) -> Repairable:
    """Return an instance's tokens, data and startable elements, for the cockpit."""

    def look(step: "Step") -> Repairable:
        return Repairable(
            instance_id=step.instance.id,
            status=step.instance.status,
            lock_version=step.instance.lock_version,
            data=current_data(step.workflow),
            tokens=tokens(step.workflow),
            elements=elements(step.info.spec),
        )

    return _read(runtime, instance_id, look)


def preview(runtime: "Runtime", instance_id: int, operations: Sequence[Operation]) -> Preview:
    """Return the tokens a modification would leave, without applying it."""

    def look(step: "Step") -> Preview:
        before = tokens(step.workflow)
        after = _modify(step, operations)
        return Preview(step.instance.id, step.instance.lock_version, tuple(operations),
                       before, after)  # fmt: skip

    return _read(runtime, instance_id, look)


def modify(
    runtime: "Runtime",
    instance_id: int,
    operations: Sequence[Operation],
    reason: str,
    actor: str,
    expected_version: int | None = None,
):
    """Apply a modification in one step, audited with its reason and the tokens it left.

    With `expected_version` (a preview's), a change made to the instance since is refused.
    """
    reason = checked_reason(reason)

    def apply(step: "Step") -> None:
        check_version(step, expected_version)
        failed = {t.task_id for t in tokens(step.workflow) if t.state == "failed"}
        left = _modify(step, operations)
        # A failed task cancelled waits for no retry any more.
        cancelled = failed - {t.task_id for t in left}
        if cancelled:
            step.db.execute(
                delete(Job).where(
                    Job.instance_id == step.instance.id,
                    Job.task_id.in_(cancelled),
                    Job.kind == "retry",
                )
            )
        step.record(
            "instance_modified",
            data={
                "reason": reason,
                "operations": [operation.to_dict() for operation in operations],
                "tokens": [token.to_dict() for token in left],
            },
        )

    return runtime._run_step(instance_id, apply, actor, allow_inactive=True)
