"""One step of one instance: apply an input, run the engine, save state and read models.

This is the only module (with the concern modules it calls) that touches `BpmnWorkflow`
objects; the rest of the product gets plain views.
"""

from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Job, MessageSubscription

from . import audit, catching, incidents, records, running, task_list, thrown, waits
from .assignment import Directory
from .clocks import note_due_times
from .errors import Conflict
from .incidents import RetryPolicy
from .instance_data import current_data
from .records import InstanceRecord
from .serializer import StateSerializer
from .thrown import MESSAGE_JOB
from .views import InstanceView, TaskView, instance_view

STEP_ACTOR = object()  # the default actor of an event: whoever made the step
DELETE_JOB = delete(Job).where(Job.id == bindparam("job_id"))
# The messages an instance threw are delivered even after it ends.
DELETE_ALL_JOBS = delete(Job).where(
    Job.instance_id == bindparam("instance_id"), Job.kind != MESSAGE_JOB
)
DELETE_ALL_SUBSCRIPTIONS = delete(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("instance_id")
)


class StepRules(Protocol):
    """What a step needs of the runtime that makes it."""

    serializer: StateSerializer
    retry: RetryPolicy
    channel_field: str | None
    search_fields: tuple[str, ...]
    summary_fields: tuple[str, ...]
    directory: Directory | None


class Step:
    """The in-memory side of one transaction on one instance."""

    def __init__(
        self,
        rules: StepRules,
        session: Session,
        instance: InstanceRecord,
        info,
        workflow,
        actor: str | None,
        now: datetime,
    ):
        self.rules = rules
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
        self.waits_before = {} if self.new else waits.waits(workflow)
        self.events: list[dict] = []
        self.failures: list[tuple] = []
        # Milliseconds each registry call of the step took, by workflow task id (see `calls`).
        self.durations: dict = {}
        self.status: str | None = (
            instance.status if instance.status in ("suspended", "terminated") else None
        )
        # Job rows of the messages this step threw to other instances.
        self.outbox: list[dict] = []
        # The open task-list rows known so far, by task id; all of them once `_all_rows`.
        self._rows: dict[str, TaskView] = {}
        self._all_rows = False
        # The state document `finish` saved.
        self.saved = b""
        # The hot path writes through Core on the session's connection: the ORM's unit of
        # work costs more than the engine itself for these append-only and bulk rows.
        self.db = session.connection()

    def open_tasks(self) -> dict[str, TaskView]:
        """Return the instance's open task-list rows as the step found them, by task id."""
        if not self._all_rows:
            self._rows = task_list.open_rows(self.db, self.instance.id)
            self._all_rows = True
        return self._rows

    def open_rows(self, task_ids) -> list[TaskView]:
        """Return the open task-list rows of these tasks, reading them only when not known."""
        rows = self._rows if self._all_rows or task_ids <= self._rows.keys() else self.open_tasks()
        return [row for task_id, row in rows.items() if task_id in task_ids]

    def know(self, row: TaskView) -> None:
        """Keep a task-list row read with the instance's lock, when it is open."""
        if row.state in task_list.ACTIVE_TASK_STATES:
            self._rows[row.id] = row

    def task(self, task_id: str):
        """Return the workflow task with this id, or None."""
        try:
            return self.workflow.get_task_from_id(UUID(str(task_id)))
        except Exception:  # noqa: BLE001  (SpiffWorkflow raises its own not-found types)
            return None

    def record(self, kind: str, task=None, data: dict | None = None, actor=STEP_ACTOR):
        """Append an audit event; its actor is the step's unless one (or None) is given."""
        by = self.actor if actor is STEP_ACTOR else actor
        info = self.info
        self.events.append(
            audit.event(
                self.instance.id, info.process_id, info.version, self.now, kind, task, data, by
            )
        )

    # Inputs

    def deliver(self, task_id: str, name: str, payload: dict, correlation: dict) -> None:
        """Hand a message to the catching event that subscribed to it."""
        catching.deliver(self, task_id, name, payload, correlation)

    def deliver_to_start(self, name: str, payload: dict, correlation: dict) -> None:
        """Run a new instance to its message start event and hand it the message."""
        catching.deliver_to_start(self, name, payload, correlation)

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
            for d in waits.event_definitions(task.task_spec.event_definition)
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

    def resolve_incidents(self, task_id: str) -> None:
        """Close a task's incidents by hand: the failed task counts as done and the run goes on."""
        incidents.resolve(self, task_id)

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
        self._rows, self._all_rows = {}, False  # renamed: the instance view reads them again

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

    # Running and saving

    def advance(self) -> None:
        """Run the engine until only user tasks and waiting events are left, or a task fails."""
        running.advance(self)

    def finish(self) -> InstanceView:
        """Run, save the state, sync the read models and events; return the instance view."""
        if self.status is None:
            self.advance()
        workflow, instance = self.workflow, self.instance
        note_due_times(workflow.event_manager.tasks.values(), self.before, self.now)
        tasks = list(workflow.get_tasks())
        running.check_reachable(self, tasks)
        audit.task_changes(
            self.record, self.before, self.ready_before, tasks, self.actor, self.durations
        )
        ready_views = task_list.sync(self, tasks)
        open_incidents = incidents.sync(self)
        self.outbox = thrown.outbox(workflow, instance.id, self.now)
        status = self.status or self._status(open_incidents)
        if status == "completed" and instance.status != "completed":
            instance.completed_at = self.now
            self.record("instance_completed")
        if status in ("terminated", "completed"):
            self._forget_waits()
        else:
            waits.sync(self.db, instance.id, self.waits_before, waits.waits(workflow))
        data = current_data(workflow, tasks)
        instance.status = status
        summary = {k: data[k] for k in self.rules.summary_fields if k in data}
        self.saved = self.rules.serializer.dump(workflow)
        records.save(self.db, instance, self.saved, summary, self.now)
        if self.events:
            audit.insert_events(self.db, self.events)
        if self.outbox:
            self.db.execute(waits.INSERT_JOB, self.outbox)
        self.session.flush()
        return instance_view(self.session, instance, self.info, data, ready_views)

    def _forget_waits(self) -> None:
        """Drop what an instance that can no longer move waited for, retry jobs too."""
        self.db.execute(DELETE_ALL_JOBS, {"instance_id": self.instance.id})
        # Subscriptions are written from the waits alone: without a message wait, there is none.
        if any(kind == "message" for kind, _ in self.waits_before):
            self.db.execute(DELETE_ALL_SUBSCRIPTIONS, {"instance_id": self.instance.id})

    def _status(self, open_incidents: bool) -> str:
        """Return the status the engine left the instance in."""
        if open_incidents:
            return "error"
        return "completed" if self.workflow.completed else "waiting"


def cancelled_around(task) -> bool:
    """Tell whether a task sits inside one that was cancelled (a multi-instance, say)."""
    parent = task.parent
    while parent is not None:
        if parent.state == TaskState.CANCELLED:
            return True
        parent = parent.parent
    return False
