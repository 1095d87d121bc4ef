"""Engine levers: SpiffWorkflow 3.2 doing the same work for less CPU.

Each lever keeps the task tree, the data and the state document exactly as stock SpiffWorkflow
makes them (tests/runtime/test_levers.py runs every corpus diagram both ways to prove it):
- `iterator`: depth-first task queries on a stack, in the stock order, without the stock
  iterator's list copies and its depth bookkeeping by parent walks; and the READY tasks (what
  the engine asks for on each of its passes) taken from the task table and sorted into that
  order, in a workflow without subprocesses;
- `waiting`: after each completed task, update the WAITING tasks found in the task table,
  visited in depth-first order, instead of walking the whole tree to find them;
- `quiet`: no log extras (a dict per change of state, the whole tree at a workflow's start and
  end) built while SpiffWorkflow's loggers are off for INFO;
- `ids` (`task_ids`): task ids that compute their hash and text once;
- `inherit`: a task that holds no data yet takes its parent's as the stock deep merge would
  (each dict, list and set a shallow copy, other values shared) without the merge's
  comparisons, key by key;
- `decisions`: each DMN cell's `?` placeholder substituted once, not by a regex per evaluation,
  each input expression evaluated once per decision, not once per cell that tests it, and a
  cell that only compares the input with literals (`"parent"`, `< 16`, `[1..5)` as translated)
  run by Python alone, not by the script engine; one that raises goes to the engine, which
  raises its error;
- `kept` (the serializer's): a finished task's part of the state document, once built or
  loaded, is kept on the task and given again by the next save while neither the task nor its
  parent has changed since, instead of its data delta being computed again.

The runtime builds and loads every workflow through `new_workflow` and `TunedSerializer` (which
keeps documents); specs get the decision lever (`decisions.CachedDecisionEngine`) from
`decisions.cache_decisions` where they are cached.
"""

import logging
import time
from copy import copy
from functools import cache

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskFilter
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .serializer import StateSerializer
from .task_ids import IdentifiedTask
from .walks import depth_first, ready_tasks, state_only, tree_position

WORKFLOW_LEVERS = ("iterator", "waiting", "quiet", "ids", "inherit")
ALL = frozenset((*WORKFLOW_LEVERS, "decisions"))
# SpiffWorkflow's own loggers: a lever builds their extras only when they would be written.
TASK_LOG = logging.getLogger("spiff.task")
WORKFLOW_LOG = logging.getLogger("spiff.workflow")


class GrownTask(Task):
    """A task whose children are of its own class: the stock method always builds a `Task`."""

    def _add_child(self, task_spec, state: int = TaskState.MAYBE) -> Task:
        """Add a child of this class, as the stock method adds one."""
        predicted = TaskState.PREDICTED_MASK
        if self._state & predicted and not state & predicted:
            raise WorkflowException(
                "Attempt to add non-predicted child to predicted task", task_spec=self.task_spec
            )
        child = type(self)(self.workflow, task_spec, self, state=state)
        child.thread_id = self.thread_id
        if state == TaskState.READY:
            child._ready()
        return child


class QuietTask(Task):
    """A task that builds its state-change log record only when the log would take it."""

    def _set_state(self, value: int) -> None:
        """Set the state; log as stock does when the task logger is on for INFO."""
        if TASK_LOG.isEnabledFor(logging.INFO):
            super()._set_state(value)
        elif value != self._state:
            self.last_state_change = time.time()
            self._state = value


# What SpiffWorkflow's merge copies (shallowly) when a task inherits its parent's data.
COPIED = (dict, list, set)


class InheritingTask(Task):
    """Lever `inherit`: data inherited without the deep merge's work when there is none to do.

    A task runs with its parent's data merged into its own; for a task holding no data yet,
    the stock merge only copies each key in, a shallow copy of each dict, list and set. Done
    here in one loop, with the built-in copy of the exact types (`copy.copy` of a subclass, as
    stock, for the others).
    """

    def _inherit_data(self) -> None:
        """Take the parent's data as the stock merge would."""
        data = self.data
        if data:
            return super()._inherit_data()
        for key, value in self.parent.data.items():
            kind = type(value)
            if kind is dict or kind is list or kind is set:
                value = value.copy()
            elif isinstance(value, COPIED):
                value = copy(value)
            data[key] = value
        return None


FINISHED = TaskState.COMPLETED | TaskState.CANCELLED


class KeptTaskConverter(TaskConverter):
    """Lever `kept`: a finished task's document kept from one save, or a load, to the next.

    SpiffWorkflow changes a finished task no more: a reset or a retry changes its state (and
    time) first. What a task's document is built from is checked cheaply: its state, time and
    trigger, its children, its internal data as converted, and that its data and its parent's
    are the same objects in the same finished states. A document holds the task's own values
    (a loaded one is pointed at them), so a value changed in place, as SpiffWorkflow's merges
    change nested values a finished task shares with later ones, is saved as it now is; what is
    kept is which keys differ from the parent's. The levers' test saves every corpus diagram
    with documents kept and built afresh.

    A loaded document's delta lists the same keys and values as one built afresh from the
    restored data, perhaps in another order: the data it restores to is the same, order
    included.
    """

    def to_dict(self, task: Task) -> dict:
        stamp = _finished_stamp(task)
        kept = task.__dict__.get("_kept_document")
        if (
            stamp is not None
            and kept is not None
            and kept[0] == stamp
            and kept[1]["internal_data"] == self.registry.convert(task.internal_data)
        ):
            return kept[1]
        dct = super().to_dict(task)
        if stamp is not None:
            task._kept_document = (stamp, dct)
        return dct

    def from_dict(self, dct: dict, workflow) -> Task:
        task = super().from_dict(dct, workflow)
        delta = dct.get("delta")
        if task.parent is None:
            dct["data"] = task.data
        elif delta:
            delta["updates"] = {key: task.data[key] for key in delta.get("updates", ())}
        else:
            return task  # saved whole by an older serializer: built afresh at the next save
        stamp = _finished_stamp(task)
        if stamp is not None:
            task._kept_document = (stamp, dct)
        return task


def _finished_stamp(task: Task) -> tuple | None:
    """Return what a finished task's document is built from, cheaply compared; None unless the
    task and its parent have finished."""
    if not task._state & FINISHED:
        return None
    parent = task.parent
    if parent is not None and not parent._state & FINISHED:
        return None
    inherited = None if parent is None else (parent._state, parent.last_state_change, parent.data)
    return (task._state, task.last_state_change, task.triggered, task.data, inherited,
            list(task._children))  # fmt: skip


class IteratorLever:
    """Lever `iterator`: task queries on `depth_first`."""

    def get_tasks_iterator(self, first_task=None, **kwargs):
        """Return the tasks a query asks for, in SpiffWorkflow's order."""
        if not kwargs.get("depth_first", True):
            return super().get_tasks_iterator(first_task, **kwargs)
        options = {
            name: kwargs.pop(name)
            for name in ("end_at_spec", "max_depth", "skip_subprocesses")
            if name in kwargs
        }
        kwargs.pop("depth_first", None)
        task_filter = kwargs.pop("task_filter", None) or BpmnTaskFilter(**kwargs)
        if (
            first_task is None
            and not options
            and task_filter.state == TaskState.READY
            and state_only(task_filter)
            and not self.top_workflow.subprocesses
        ):
            return iter(ready_tasks(self, task_filter.manual))
        return depth_first(first_task or self.task_tree, task_filter, **options)


class WaitingLever:
    """Lever `waiting`: update the WAITING tasks without walking the tree to find them."""

    def update_waiting_tasks(self) -> None:
        """Update every WAITING task, in the depth-first order the stock walk visits them.

        A task that an earlier update took out of WAITING is left alone, as the stock walk
        (which checks each task's state when it reaches it) leaves it. A task an update makes
        WAITING is left to the next pass; the stock walk would reach it in this one only if it
        lay under a task not yet walked, which SpiffWorkflow's specs do not do (the tasks they
        add in an update are children of the task updated, already walked, and updated by
        it). The order kept is the stock one, though creation order gives the same results on
        every diagram of the identity test.
        """
        waiting = TaskState.WAITING
        found = [task for task in self.tasks.values() if task._state == waiting]
        if len(found) > 1:
            found.sort(key=tree_position)
        for task in found:
            if task._state == waiting:
                task.task_spec._update(task)


class QuietLever:
    """Lever `quiet`: tasks of `QuietTask`, workflow log extras built only when logged."""

    def collect_log_extras(self, dct=None) -> dict:
        """Return the workflow's log extras, or nothing while its logger is off for INFO."""
        if not WORKFLOW_LOG.isEnabledFor(logging.INFO):
            return {}
        return super().collect_log_extras(dct)


class _Planted:
    """A workflow whose root task is of `task_class`, so the tasks grown from it are too."""

    task_class: type[Task] = GrownTask

    def _plant(self) -> None:
        """Create the root task and its predicted tree, as SpiffWorkflow's constructor does."""
        self.task_tree = self.task_class(self, self.spec.start, state=TaskState.FUTURE)
        self.task_tree.task_spec._predict(self.task_tree, mask=TaskState.NOT_FINISHED_MASK)
        WORKFLOW_LOG.info("Initialized workflow", extra=self.collect_log_extras())
        self.task_tree._ready()


class _TunedSubWorkflow(_Planted, BpmnSubWorkflow):
    """A subprocess of a tuned workflow."""

    def __init__(self, spec, parent_task_id, top_workflow, deserializing: bool = False):
        super().__init__(spec, parent_task_id, top_workflow, deserializing=True)
        if not deserializing:
            self._plant()


class _TunedWorkflow(_Planted, BpmnWorkflow):
    """A top workflow whose subprocesses are of `subworkflow_class`."""

    subworkflow_class: type[BpmnSubWorkflow] = _TunedSubWorkflow

    def __init__(self, spec, subprocess_specs=None, script_engine=None, deserializing=False):
        super().__init__(spec, subprocess_specs, script_engine, deserializing=True)
        if not deserializing:
            self._plant()

    def create_subprocess(self, my_task, spec_name):
        """Create the subprocess of a task, of this workflow's subprocess class."""
        subprocess = self.subworkflow_class(
            self.subprocess_specs[spec_name], parent_task_id=my_task.id, top_workflow=self
        )
        self.subprocesses[my_task.id] = subprocess
        return subprocess


LEVER_MIXINS = {"iterator": IteratorLever, "waiting": WaitingLever, "quiet": QuietLever}
TASK_MIXINS = {"quiet": QuietTask, "ids": IdentifiedTask, "inherit": InheritingTask}


@cache
def workflow_class(levers: frozenset[str]) -> type[BpmnWorkflow]:
    """Return the workflow class with the named workflow levers (`WORKFLOW_LEVERS`) on."""
    chosen = [name for name in WORKFLOW_LEVERS if name in levers]
    mixins = tuple(LEVER_MIXINS[name] for name in chosen if name in LEVER_MIXINS)
    task_mixins = tuple(TASK_MIXINS[name] for name in chosen if name in TASK_MIXINS)
    task = type("TunedTask", (*task_mixins, GrownTask), {})
    sub = type("TunedSubWorkflow", (*mixins, _TunedSubWorkflow), {"task_class": task})
    return type(
        "TunedWorkflow", (*mixins, _TunedWorkflow), {"subworkflow_class": sub, "task_class": task}
    )


TunedWorkflow = workflow_class(ALL)


def new_workflow(spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
    """Return a new workflow of a process with every lever on: the product's one way."""
    return TunedWorkflow(spec, subprocess_specs, script_engine=script_engine)


def _converter_class(registry, typename: str) -> type:
    """Return the class of the converter a serializer registry restores a type name with."""
    return registry.convert_from_dict[typename].args[0].__self__.__class__


def register(registry, workflow: type[BpmnWorkflow], kept: bool = True) -> None:
    """Make a serializer registry restore the classes of `workflow` under the stock type names.

    Documents keep their type names (`BpmnWorkflow`, `BpmnSubWorkflow`, `Task`), so a state
    saved with or without the levers loads either way. With `kept`, its tasks keep documents.
    """
    for stock, tuned in (
        (BpmnWorkflow, workflow),
        (BpmnSubWorkflow, workflow.subworkflow_class),
        (Task, workflow.task_class),
    ):
        typename = registry.typenames[stock]
        converter = KeptTaskConverter if kept and stock is Task else None
        if tuned is not stock or converter:
            (converter or _converter_class(registry, typename))(tuned, registry, typename)


class TunedSerializer(StateSerializer):
    """The state serializer, restoring workflows of a tuned class (all levers by default) and
    keeping finished tasks' documents (`kept`) unless told not to."""

    def __init__(self, workflow: type[BpmnWorkflow] = TunedWorkflow, kept: bool = True) -> None:
        super().__init__()
        self.workflow = workflow
        self.kept = kept

    def _get(self):
        fresh = not hasattr(self._local, "pair")
        full, lean = super()._get()
        if fresh:
            register(lean.registry, self.workflow, self.kept)
        return full, lean
