"""One step of one instance: apply an input, run the engine, save state and read models.

This is the only module that touches `BpmnWorkflow` objects; the rest of the product gets
plain views.
"""

import json
import logging
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4, uuid5

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, select, update

from webapp.db.models import (
    HumanTask,
    HumanTaskKey,
    Incident,
    Instance,
    InstanceEvent,
    Job,
    MessageSubscription,
)

from . import scripting
from .assignment import starter_may_hold
from .errors import Conflict, InvalidData, NotFound
from .scripting import writes_keyed_by
from .serializer import SERIALIZER_VERSION
from .views import TaskView

if TYPE_CHECKING:
    from .engine import Runtime

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
TOO_DEEP = (
    "the task tree is deeper than SpiffWorkflow can walk (a loop drawn with a gateway and a"
    " back edge ran about 250 times): model it as a standard loop or a multi-instance task"
)
STEP_ACTOR = object()  # the default actor of an event: whoever made the step
EVENT_KINDS = {
    TaskState.WAITING: "task_waiting",
    TaskState.COMPLETED: "task_completed",
    TaskState.CANCELLED: "task_cancelled",
    TaskState.ERROR: "task_error",
}
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
ACTIVE_TASK_STATES = ("ready", "claimed")

# The statements every step runs, built once with bound parameters: SQLAlchemy computes a
# cache key for each new statement object, which costs more than SQLite takes to run it.
OPEN_TASKS = (
    select(*(getattr(HumanTask, name) for name in TaskView.__dataclass_fields__))
    .where(
        HumanTask.instance_id == bindparam("instance_id"),
        HumanTask.state.in_(ACTIVE_TASK_STATES),
    )
    .order_by(HumanTask.created_at, HumanTask.id)
)
CLOSE_TASKS = update(HumanTask).where(HumanTask.id.in_(bindparam("ids", expanding=True)))
SAVE_INSTANCE = update(Instance).where(
    Instance.id == bindparam("instance_id"), Instance.lock_version == bindparam("locked_version")
)
INSERT_EVENTS = insert(InstanceEvent)
INSERT_TASKS = insert(HumanTask)
INSERT_TASK_KEYS = insert(HumanTaskKey)
INSERT_SUBSCRIPTION = insert(MessageSubscription)
INSERT_JOB = insert(Job)
MESSAGE_JOB = "message"
DELETE_SUBSCRIPTION = delete(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("instance_id"),
    MessageSubscription.task_id == bindparam("task_id"),
)
DELETE_TIMER = delete(Job).where(
    Job.instance_id == bindparam("instance_id"),
    Job.task_id == bindparam("task_id"),
    Job.kind == "timer",
)
DELETE_JOB = delete(Job).where(Job.id == bindparam("job_id"))
# The messages an instance threw are delivered even after it ends.
DELETE_ALL_JOBS = delete(Job).where(
    Job.instance_id == bindparam("instance_id"), Job.kind != MESSAGE_JOB
)
DELETE_ALL_SUBSCRIPTIONS = delete(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("instance_id")
)


def json_safe(value):
    """Return data as plain JSON types (dates become ISO strings)."""
    return json.loads(json.dumps(value, default=str))


def correlation_key(correlation: dict) -> str:
    """Return the canonical text a subscription's correlation is indexed by."""
    return json.dumps(json_safe(correlation), sort_keys=True, separators=(",", ":"))


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


def event_definitions(definition) -> list:
    """Return the definitions an event waits for: an event-based gateway's are several."""
    return list(getattr(definition, "event_definitions", None) or [definition])


def _due(event_value, definition) -> datetime | None:
    """Return when a waiting timer is due, from the value SpiffWorkflow keeps on its task."""
    if event_value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        due = datetime.fromisoformat(event_value["next"])
    else:
        due = TimerEventDefinition.parse_time_or_duration(event_value)
    return due if isinstance(due, datetime) else None


@dataclass
class InstanceRecord:
    """The instance row a step works on; steps read and write it through Core."""

    id: int
    process_version_id: int
    process_id: str
    business_key: str | None
    status: str
    state: bytes
    lock_version: int
    completed_at: datetime | None


RECORD = select(*(getattr(Instance, name) for name in InstanceRecord.__dataclass_fields__))
READ_RECORD = RECORD.where(Instance.id == bindparam("instance_id"))
LOCK_RECORD = READ_RECORD.with_for_update()
LOCK_RECORD_OF_TASK = RECORD.where(
    Instance.id
    == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id")).scalar_subquery()
).with_for_update()


class Step:
    """The in-memory side of one transaction on one instance."""

    def __init__(self, runtime: "Runtime", session, instance, info, workflow, actor, now):
        self.runtime = runtime
        self.session = session
        self.instance = instance
        self.info = info
        self.workflow = workflow
        self.actor = actor
        self.now = now
        self.new = not instance.state
        self.before: dict = {}
        self.ready_before: dict[str, object] = {}
        if not self.new:
            for task in workflow.get_tasks():
                self.before[task.id] = task.state
                if task.state == TaskState.READY and task.task_spec.manual:
                    self.ready_before[str(task.id)] = task
        self.waits_before = {} if self.new else self._waits()
        self.events: list[dict] = []
        self.failures: list[tuple] = []
        self.status: str | None = (
            instance.status if instance.status in ("suspended", "terminated") else None
        )
        # Job rows of the messages this step threw to other instances.
        self.outbox: list[dict] = []
        self.ready_views: tuple[TaskView, ...] = ()
        self._open_tasks: dict[str, TaskView] | None = None
        # The hot path writes through Core on the session's connection: the ORM's unit of
        # work costs more than the engine itself for these append-only and bulk rows.
        self.db = session.connection()

    def open_tasks(self) -> dict[str, TaskView]:
        """Return the instance's open task-list rows as the step found them, by task id."""
        if self._open_tasks is None:
            rows = self.db.execute(OPEN_TASKS, {"instance_id": self.instance.id})
            self._open_tasks = {row.id: TaskView(*row) for row in rows}
        return self._open_tasks

    # Inputs

    def task(self, task_id: str):
        """Return the workflow task with this id, or None."""
        try:
            return self.workflow.get_task_from_id(UUID(str(task_id)))
        except Exception:  # noqa: BLE001  (SpiffWorkflow raises its own not-found types)
            return None

    def record(self, kind: str, task=None, data: dict | None = None, actor=STEP_ACTOR):
        """Append an audit event; its actor is the step's unless one (or None) is given."""
        spec = task.task_spec if task is not None else None
        self.events.append(
            {
                "instance_id": self.instance.id,
                "process_id": self.info.process_id,
                "version": self.info.version,
                "at": self.now,
                "kind": kind,
                "task_id": str(task.id) if task is not None else None,
                "bpmn_id": getattr(spec, "bpmn_id", None),
                "called_process": called_process(task) if task is not None else None,
                "name": getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None),
                "task_type": type(spec).__name__ if spec is not None else None,
                "actor": self.actor if actor is STEP_ACTOR else actor,
                "data": data,
            }
        )

    def deliver(self, task_id: str, name: str, payload: dict, correlation: dict) -> None:
        """Hand a message to the catching event that subscribed to it."""
        task = self.task(task_id) or self._waiting_by_message_id(task_id, name)
        trigger = None if task is not None else self.message_triggers().get(task_id)
        if trigger is not None and trigger.name == name:
            # An event subprocess with a message start: SpiffWorkflow creates it on the catch.
            self._catch(name, lambda event: self.workflow.catch(event), trigger, payload,
                        correlation)  # fmt: skip
            self.record("message_received", None, {"message": name, "correlation": correlation})
            return
        if task is None or task.state != TaskState.WAITING:
            raise Conflict(f"the instance no longer waits for message {name!r}")
        (definition,) = [
            d
            for d in event_definitions(task.task_spec.event_definition)
            if isinstance(d, MessageEventDefinition) and d.name == name
        ]
        self._catch(name, lambda event: task.task_spec.catch(task, event), definition, payload,
                    correlation)  # fmt: skip
        if getattr(definition, "message_var", None) is None:
            # SpiffWorkflow drops the payload of a catch event without a messageVariable.
            task.set_data(**payload)
        task.task_spec._update(task)
        self.record("message_received", task, {"message": name, "correlation": correlation})

    def _waiting_by_message_id(self, message_id: str, name: str):
        """Return the waiting task a second message subscription of an event stands for."""
        for task in self.workflow.event_manager.tasks.values():
            if str(uuid5(task.id, name)) == message_id:
                return task
        return None

    @staticmethod
    def _catch(name: str, catch, definition, payload: dict, correlation: dict) -> None:
        correlations: dict = {}
        for prop in definition.correlation_properties:
            if prop.name in correlation:
                for key in prop.correlation_keys:
                    correlations.setdefault(key, {})[prop.name] = correlation[prop.name]
        event = BpmnEvent(definition, {**correlation, **payload}, correlations)
        try:
            catch(event)
        except Exception as error:  # noqa: BLE001  (a correlation expression over the payload)
            raise InvalidData(
                f"message {name!r} could not be matched: {error}", {"payload": str(error)}
            ) from error

    def message_triggers(self) -> dict[str, MessageEventDefinition]:
        """Return the message starts of event subprocesses, by an id stable for the instance."""
        workflow, triggers = self.workflow, {}
        if workflow.completed:
            return triggers
        for name in workflow.spec.start.trigger_specs:
            for start in workflow.subprocess_specs[name].bpmn_start_events:
                if start.extensions.get("interrupting") and workflow.get_next_task(spec_name=name):
                    continue  # it has interrupted the process already
                if isinstance(start.event_definition, MessageEventDefinition):
                    trigger_id = str(uuid5(workflow.task_tree.id, f"{name}/{start.name}"))
                    triggers[trigger_id] = start.event_definition
        return triggers

    def deliver_to_start(self, name: str, payload: dict, correlation: dict) -> None:
        """Run a new instance to its message start event and hand it the message."""
        self.advance()
        for task in self.workflow.event_manager.tasks.values():
            for definition in event_definitions(task.task_spec.event_definition):
                if isinstance(definition, MessageEventDefinition) and definition.name == name:
                    self.deliver(str(task.id), name, payload, correlation)
                    return
        raise NotFound(f"the process started for message {name!r} does not wait for it")

    def fire(self, job_id: int, task_id: str, kind: str) -> None:
        """Fire a due timer, or retry a failed service task."""
        self.db.execute(DELETE_JOB, {"job_id": job_id})
        if kind == "retry":
            task = self.task(task_id)
            if task is None or task.state != TaskState.ERROR:
                return
            if cancelled_around(task):
                # The part the task belonged to was cancelled (a timer, a refusal) while the
                # retry waited: running it now would complete work nobody waits for.
                task._set_state(TaskState.CANCELLED)
                self.record("task_cancelled", task)
                return
            self.retry(task_id)
            return
        task = self.task(task_id)
        if task is None or task.state != TaskState.WAITING:
            return
        (definition,) = [
            d
            for d in event_definitions(task.task_spec.event_definition)
            if isinstance(d, TimerEventDefinition)
        ]
        # The job is due by our clock (or the worker's --now): make SpiffWorkflow's own
        # check, which reads the wall clock, see the timer as expired.
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        if isinstance(definition, CycleTimerEventDefinition):
            task.internal_data["event_value"]["next"] = past
        else:
            task.internal_data["event_value"] = past
        self.workflow.refresh_timers()
        self.record("timer_fired", task)

    def retry(self, task_id: str) -> None:
        """Make a failed task ready again; the engine runs it in this step."""
        task = self.task(task_id)
        if task is None or task.state != TaskState.ERROR:
            raise Conflict(f"task {task_id} has not failed")
        if cancelled_around(task):
            raise Conflict(f"task {task_id} belongs to a cancelled part of the process")
        task._set_state(TaskState.READY)
        self.record("retry", task)

    def migrate(self, plan, target, preview) -> None:
        """Move the instance to the target version and rename its open tasks' rows."""
        plan.apply()
        self.info = target
        self.instance.process_version_id = target.id
        self.record(
            "instance_migrated",
            data={
                "from_version": preview.from_version,
                "to_version": preview.to_version,
                "changed": list(preview.changed),
                "reset": list(preview.reset),
            },
        )
        for task in self.workflow.get_tasks(state=TaskState.READY):
            if task.task_spec.manual and str(task.id) in self.ready_before:
                spec = task.task_spec
                self.db.execute(
                    update(HumanTask)
                    .where(HumanTask.id == str(task.id))
                    .values(name=getattr(spec, "bpmn_name", None) or spec.bpmn_id)
                )
        self._open_tasks = None  # renamed: the instance view reads them again

    def set_status(self, status: str | None) -> None:
        """Suspend (a status) or resume (None) the instance."""
        if status == self.instance.status:
            raise Conflict(f"instance {self.instance.id} is already {status}")
        self.status = status
        self.record("instance_suspended" if status else "instance_resumed")

    def terminate(self) -> None:
        """Cancel the workflow and every open task."""
        if self.instance.status in ("completed", "terminated"):
            raise Conflict(f"instance {self.instance.id} is already {self.instance.status}")
        self.workflow.cancel()
        self.status = "terminated"
        self.record("instance_terminated")

    # Running

    def advance(self) -> None:
        """Run the engine until only user tasks and waiting events are left, or a task fails.

        The service tasks that write are keyed by the instance's business key, so a step run
        again after a crash sends the registries the keys of its first run.
        """
        instance = self.instance
        with writes_keyed_by(instance.business_key or f"instance-{instance.id}"):
            self._advance()

    def _advance(self) -> None:
        for _ in range(MAX_ROUNDS):
            try:
                self.workflow.do_engine_steps()
            except Exception as error:  # noqa: BLE001  (diagram code fails in many ways)
                if self._handle_failure(error):
                    continue
                return
            if self._interrupt():
                continue
            if self.workflow.get_next_task(state=TaskState.READY, manual=False) is None:
                # Nothing unfinished is complete, even when no End task ran: an interrupting
                # event subprocess cancels the path to it.
                self.workflow.is_completed()
                return

    def _interrupt(self) -> bool:
        """Let an interrupting event subprocess that has fired cancel the rest of its process.

        SpiffWorkflow 3.2 ignores `isInterrupting` on the start events of event subprocesses;
        deployment marks the interrupting ones (see `specs`) and the step does the cancelling.
        """
        interrupted = False
        for task_id, subprocess in list(self.workflow.subprocesses.items()):
            task = self.workflow.get_task_from_id(task_id)
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

    def _handle_failure(self, error: Exception) -> bool:
        """Throw a business error as a BPMN error event; keep anything else as an incident."""
        # A failed instance of a multi-instance task is missed by a state-filtered search,
        # which stops below the STARTED parent: filter the whole tree instead.
        failed = [t for t in self.workflow.get_tasks() if t.state == TaskState.ERROR]
        task = failed[-1] if failed else getattr(error, "task", None)
        cause = getattr(error, "exception", None) or error
        code = getattr(cause, "error_code", None)
        if code and task is not None and self._throw_error(task, code, str(cause)):
            return True
        trace = "".join(traceback.format_exception(cause))
        self.failures.append((task, str(cause) or type(cause).__name__, trace))
        return False

    def _throw_error(self, task, code: str, message: str) -> bool:
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
        if not catchers:
            uncaught = len(self.workflow.bpmn_events)
            self.workflow.catch(event)
            if len(self.workflow.bpmn_events) > uncaught:
                self.workflow.bpmn_events.pop()
                return False
        self.record("error_thrown", task, payload)
        return True

    # Saving

    def finish(self):
        """Run, save the state, sync the read models and events; return the instance view."""
        if self.status is None:
            self.advance()
        tasks = list(self.workflow.get_tasks())
        self._check_reachable(tasks)
        self._record_task_changes(tasks)
        self._sync_human_tasks(tasks)
        self._sync_waits()
        self._sync_incidents()
        self._route_thrown_events()
        instance, workflow = self.instance, self.workflow
        status = self.status
        if status is None:
            status = (
                "error"
                if self._open_incidents
                else ("completed" if workflow.completed else "waiting")
            )
        if status == "completed" and instance.status != "completed":
            instance.completed_at = self.now
            self.record("instance_completed")
        if status in ("terminated", "completed"):
            # Retry jobs too: an instance that can no longer move waits for nothing.
            for statement in (DELETE_ALL_JOBS, DELETE_ALL_SUBSCRIPTIONS):
                self.db.execute(statement, {"instance_id": instance.id})
        data = current_data(workflow, tasks)
        instance.status = status
        saved = self.db.execute(
            SAVE_INSTANCE,
            {
                "instance_id": instance.id,
                "locked_version": instance.lock_version,
                "process_version_id": instance.process_version_id,
                "status": status,
                "state": self.runtime.serializer.dump(workflow),
                "serializer_version": SERIALIZER_VERSION,
                "business_key": instance.business_key,
                "summary": {k: data[k] for k in self.runtime.summary_fields if k in data},
                "updated_at": self.now,
                "completed_at": instance.completed_at,
                "lock_version": instance.lock_version + 1,
            },
        )
        if saved.rowcount != 1:
            raise Conflict(f"instance {instance.id} was changed by another step")
        if self.events:
            self.db.execute(INSERT_EVENTS, self.events)
        if self.outbox:
            self.db.execute(INSERT_JOB, self.outbox)
        self.session.flush()
        return self.runtime.view(self.session, instance, self.info, data, self.ready_views)

    def after_commit(self) -> None:
        """Deliver the messages this step threw now; what fails, the worker tries again."""
        for job in self.outbox:
            try:
                self.runtime.deliver_thrown(job["instance_id"], job["task_id"], self.now)
            except Exception:
                # This step is committed and its message kept: the worker delivers it later.
                log.exception("message of instance %s not delivered yet", job["instance_id"])

    def _check_reachable(self, tasks: list) -> None:
        """Refuse to go on when SpiffWorkflow can no longer walk its own task tree.

        Its iterators stop at depth 1000, which a back-edge loop reaches after about 250
        rounds; past that, tasks vanish from every query and the instance would end silently
        with wrong data.
        """
        walked = sum(1 for task in tasks if task.workflow is self.workflow)
        if walked < len(self.workflow.tasks):
            self.failures.append((None, TOO_DEEP, ""))

    def _record_task_changes(self, tasks: list) -> None:
        for task in tasks:
            state = task.state
            if self.before.get(task.id) == state:
                continue
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) is None:
                continue
            if state == TaskState.READY and spec.manual:
                self.record("task_ready", task, actor=None)
            elif state in EVENT_KINDS:
                data = None
                if state == TaskState.COMPLETED:
                    parent = task.parent.data if task.parent is not None else {}
                    data = {k: v for k, v in task.data.items() if parent.get(k, ...) != v}
                    data = json_safe(data) if data else None
                actor = self.actor if spec.manual and state == TaskState.COMPLETED else None
                self.record(EVENT_KINDS[state], task, data, actor=actor)
        present = {str(task.id) for task in tasks}
        for task_id, task in self.ready_before.items():
            # A cancelled subprocess leaves the tree with its open user tasks in it.
            if task_id not in present:
                self.record("task_cancelled", task, actor=None)

    def _sync_human_tasks(self, tasks: list) -> None:
        """Open a task-list row per new ready user task; close the rows of the others.

        Which rows to write follows from the state before the step; the rows that stay open
        are read (once) only for the instance view.
        """
        ready = {str(t.id): t for t in tasks if t.state == TaskState.READY and t.task_spec.manual}
        kept = self.ready_before.keys() & ready.keys()
        views = [row for i, row in self.open_tasks().items() if i in kept] if kept else []
        gone = self.ready_before.keys() - ready.keys()
        if gone:
            completed = {
                i
                for i in gone
                if self.task(i) is not None and self.task(i).state == TaskState.COMPLETED
            }
            for ids, state, by in (
                (completed, "completed", self.actor),
                (gone - completed, "cancelled", None),
            ):
                if ids:
                    self.db.execute(
                        CLOSE_TASKS,
                        {"ids": ids, "state": state, "completed_at": self.now, "completed_by": by},
                    )
        new = [self._human_task(i, t) for i, t in ready.items() if i not in self.ready_before]
        if new:
            self.db.execute(INSERT_TASKS, new)
            keys = [
                {"task_id": i, "key": key}
                for i, t in ready.items()
                if i not in self.ready_before
                for key in self._search_keys(t)
            ]
            if keys:
                self.db.execute(INSERT_TASK_KEYS, keys)
        fields = TaskView.__dataclass_fields__
        views += (TaskView(**{k: row.get(k) for k in fields}) for row in new)
        self.ready_views = tuple(sorted(views, key=lambda view: (view.created_at, view.id)))

    def _human_task(self, task_id: str, task) -> dict:
        spec = task.task_spec
        extensions = getattr(spec, "extensions", {}) or {}
        properties = extensions.get("properties", {})
        due_in = self._property(task, properties.get("dueIn"))
        due_at = None
        if due_in:
            parsed = TimerEventDefinition.parse_iso_duration(str(due_in))
            due_at = self.now + TimerEventDefinition.get_timedelta_from_start(parsed, self.now)
        assignee = self._property(task, properties.get("assignee"))
        row = {
            "id": task_id,
            "instance_id": self.instance.id,
            "process_id": self.info.process_id,
            "business_key": self.instance.business_key,
            "bpmn_id": spec.bpmn_id,
            "called_process": called_process(task),
            "name": getattr(spec, "bpmn_name", None) or spec.bpmn_id,
            "lane": spec.lane,
            "role": spec.lane.lower() if spec.lane else None,
            "assignee": str(assignee) if assignee is not None else None,
            "form": properties.get("formJsonSchemaFilename"),
            "ui_form": properties.get("formUiSchemaFilename"),
            "instructions": self._instructions(task, extensions.get("instructionsForEndUser")),
            "state": "ready",
            "claimed_by": None,
            "claimed_at": None,
            "channel": self._text(task.data.get(self.runtime.channel_field or ""), 60),
            "due_at": due_at,
            "created_at": self.now,
        }
        # `claimedByStarter`: a counter application starts in the hands of the clerk who
        # started it, with no claim step in between.
        if (
            self.new
            and self._property(task, properties.get("claimedByStarter"))
            and starter_may_hold(self.runtime.directory, self.session, self.actor, row["role"])
        ):
            row.update(state="claimed", claimed_by=self.actor, claimed_at=self.now)
            self.record("claimed", task)
        return row

    def _search_keys(self, task) -> set[str]:
        """Return the values of the runtime's search fields in the task's data."""
        values = (self._text(task.data.get(name)) for name in self.runtime.search_fields)
        return {value for value in values if value}

    @staticmethod
    def _text(value, limit: int = 120) -> str | None:
        """Return a scalar value as a text of at most `limit` characters; None for others."""
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        return str(value)[:limit]

    def _property(self, task, expression: str | None):
        if not expression:
            return None
        try:
            return self.workflow.script_engine.evaluate(task, expression)
        except Exception as error:  # noqa: BLE001  (a diagram's expression over its data)
            log.warning("property %r of %s: %s", expression, task.task_spec.bpmn_id, error)
            return None

    @staticmethod
    def _instructions(task, text: str | None) -> str | None:
        if not text:
            return None
        try:
            return scripting.render(text, task.data)
        except Exception as error:  # noqa: BLE001  (an instructions template over task data)
            return f"{text}\n\n(instructions could not be rendered: {error})"

    def _waits(self) -> dict[tuple[str, str], object]:
        """Return what the instance waits for, by kind and id: messages (name and correlation)
        and timers (when due)."""
        waits: dict[tuple[str, str], object] = {}
        triggers = self.message_triggers()
        if triggers:
            data = current_data(self.workflow)
            for trigger_id, definition in triggers.items():
                correlation = self._correlation({self.workflow}, data, definition)
                waits["message", trigger_id] = (definition.name, correlation)
        for task in self.workflow.event_manager.tasks.values():
            if task.state != TaskState.WAITING:
                continue
            seen = [event.event_definition for event in task.internal_data.get("seen_events", [])]
            for definition in event_definitions(task.task_spec.event_definition):
                if definition in seen:
                    continue  # a parallel multiple event waits for the others still
                if isinstance(definition, MessageEventDefinition):
                    # The first message an event waits for is indexed by its task's id, any
                    # other (an event-based gateway's) by an id derived from it.
                    workflows = {task.workflow, task.workflow.top_workflow}
                    correlation = self._correlation(workflows, task.data, definition)
                    key = str(task.id)
                    if ("message", key) in waits:
                        key = str(uuid5(task.id, definition.name))
                    waits["message", key] = (definition.name, correlation)
                elif isinstance(definition, TimerEventDefinition):
                    due = _due(task.internal_data.get("event_value"), definition)
                    if due is not None:
                        waits["timer", str(task.id)] = due
        return waits

    def _sync_waits(self) -> None:
        """Keep one subscription per waiting message event and one job per waiting timer.

        What was there follows from the state before the step, so no query is needed.
        """
        before, after = self.waits_before, self._waits()
        instance_id = self.instance.id
        for (kind, task_id), wait in before.items():
            if after.get((kind, task_id)) != wait:
                statement = DELETE_SUBSCRIPTION if kind == "message" else DELETE_TIMER
                self.db.execute(statement, {"instance_id": instance_id, "task_id": task_id})
        for (kind, task_id), wait in after.items():
            if before.get((kind, task_id)) == wait:
                continue
            if kind == "message":
                name, correlation = wait
                self.db.execute(
                    INSERT_SUBSCRIPTION,
                    {
                        "instance_id": instance_id,
                        "task_id": task_id,
                        "message_name": name,
                        "correlation": correlation,
                        "correlation_key": correlation_key(correlation),
                    },
                )
            else:
                self.db.execute(
                    INSERT_JOB,
                    {
                        "instance_id": instance_id,
                        "task_id": task_id,
                        "kind": "timer",
                        "due_at": wait,
                    },
                )

    @staticmethod
    def _correlation(workflows, data: dict, definition) -> dict:
        known = {}
        for workflow in workflows:
            for values in workflow.correlations.values():
                known.update(values)
        correlation = {}
        for prop in definition.correlation_properties:
            if prop.name in known:
                correlation[prop.name] = known[prop.name]
            elif prop.name in data:
                correlation[prop.name] = data[prop.name]
        return json_safe(correlation)

    @property
    def _open_incidents(self) -> bool:
        return bool(self._incident_rows)

    def _sync_incidents(self) -> None:
        self._incident_rows = []
        if not self.failures and self.instance.status != "error":
            return
        rows = {
            row.task_id: row
            for row in self.session.scalars(
                select(Incident).where(
                    Incident.instance_id == self.instance.id, Incident.status == "open"
                )
            )
        }
        failed_ids = set()
        for task, message, trace in self.failures:
            task_id = str(task.id) if task is not None else ""
            failed_ids.add(task_id)
            row = rows.get(task_id)
            if row is None:
                row = Incident(
                    instance_id=self.instance.id,
                    task_id=task_id,
                    bpmn_id=getattr(task.task_spec, "bpmn_id", "") if task else "",
                    message=message,
                    trace=trace,
                    attempts=1,
                    status="open",
                    created_at=self.now,
                )
                self.session.add(row)
                rows[task_id] = row
            else:
                row.attempts += 1
                row.message, row.trace = message, trace
            self.record("incident_opened", task, {"message": message, "attempts": row.attempts})
            retry = self.runtime.retry
            if (
                task is not None
                and isinstance(task.task_spec, ServiceTask)
                and (row.attempts < retry.max_attempts)
            ):
                self._schedule_retry(task_id, self.now + retry.delay(row.attempts))
        for task_id, row in rows.items():
            task = self.task(task_id) if task_id else None
            if task_id not in failed_ids and (task is None or task.state != TaskState.ERROR):
                self._close_incident(row, "resolved")
        self._incident_rows = [row for row in rows.values() if row.status == "open"]

    def resolve_incidents(self, task_id: str) -> None:
        """Close a task's incidents by hand: the failed task counts as done and the run goes on."""
        task = self.task(task_id)
        if task is not None and task.state == TaskState.ERROR:
            task.complete()
        for row in self.session.scalars(
            select(Incident).where(
                Incident.instance_id == self.instance.id,
                Incident.task_id == task_id,
                Incident.status == "open",
            )
        ):
            self._close_incident(row, "resolved")
        self.db.execute(
            delete(Job).where(
                Job.instance_id == self.instance.id, Job.task_id == task_id, Job.kind == "retry"
            )
        )

    def _close_incident(self, row: Incident, status: str) -> None:
        row.status, row.resolved_at = status, self.now
        self.record(f"incident_{status}", self.task(row.task_id), {"incident": row.id})

    def _schedule_retry(self, task_id: str, due: datetime) -> None:
        job = self.session.scalar(
            select(Job).where(
                Job.instance_id == self.instance.id, Job.task_id == task_id, Job.kind == "retry"
            )
        )
        if job is None:
            self.session.add(
                Job(instance_id=self.instance.id, task_id=task_id, kind="retry", due_at=due)
            )
        else:
            job.due_at, job.locked_by, job.locked_until = due, None, None

    def _route_thrown_events(self) -> None:
        for event in self.workflow.get_events():
            definition = event.event_definition
            if isinstance(definition, MessageEventDefinition):
                correlation = {}
                for values in event.correlations.values():
                    correlation.update(values)
                message = {
                    "name": definition.name,
                    "payload": json_safe(event.payload or {}),
                    "correlation": correlation,
                }
                self.outbox.append(
                    {
                        "instance_id": self.instance.id,
                        "task_id": str(uuid4()),
                        "kind": MESSAGE_JOB,
                        "due_at": self.now,
                        "payload": message,
                    }
                )


def cancelled_around(task) -> bool:
    """Tell whether a task sits inside one that was cancelled (a multi-instance, say)."""
    parent = task.parent
    while parent is not None:
        if parent.state == TaskState.CANCELLED:
            return True
        parent = parent.parent
    return False
