"""Incidents: a failed task kept open for an administrator, retried on a backoff."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select

from webapp.db.models import Incident, Job

from . import calls

if TYPE_CHECKING:
    from .steps import Step


@dataclass(frozen=True)
class RetryPolicy:
    """Service-task retries: the diagram's `retries` are parsed but never acted on by Spiff."""

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(minutes=10)

    def delay(self, attempts: int) -> timedelta:
        """Return the backoff before retry number `attempts`."""
        return min(self.first_delay * 2 ** (attempts - 1), self.max_delay)


def sync(step: "Step") -> bool:
    """Open an incident per failure of the step, close the ones fixed; tell if any stay open."""
    if not step.failures and step.instance.status != "error":
        return False
    rows = {
        row.task_id: row
        for row in step.session.scalars(
            select(Incident).where(
                Incident.instance_id == step.instance.id, Incident.status == "open"
            )
        )
    }
    failed_ids = set()
    retry = step.rules.retry
    for task, message, trace in step.failures:
        task_id = str(task.id) if task is not None else ""
        failed_ids.add(task_id)
        row = rows.get(task_id)
        if row is None:
            row = Incident(
                instance_id=step.instance.id,
                task_id=task_id,
                bpmn_id=getattr(task.task_spec, "bpmn_id", "") if task else "",
                message=message,
                trace=trace,
                attempts=1,
                status="open",
                created_at=step.now,
            )
            step.session.add(row)
            rows[task_id] = row
        else:
            row.attempts += 1
            row.message, row.trace = message, trace
        data = {"message": message, "attempts": row.attempts}
        step.record("incident_opened", task, calls.with_duration(data, step.durations, task))
        if isinstance(getattr(task, "task_spec", None), ServiceTask) and (
            row.attempts < retry.max_attempts
        ):
            _schedule_retry(step, task_id, step.now + retry.delay(row.attempts))
    for task_id, row in rows.items():
        task = step.task(task_id) if task_id else None
        if task_id not in failed_ids and (task is None or task.state != TaskState.ERROR):
            _close(step, row, "resolved")
    return any(row.status == "open" for row in rows.values())


def resolve(step: "Step", task_id: str) -> None:
    """Close a task's incidents by hand: the failed task counts as done and the run goes on."""
    task = step.task(task_id)
    if task is not None and task.state == TaskState.ERROR:
        task.complete()
    for row in step.session.scalars(
        select(Incident).where(
            Incident.instance_id == step.instance.id,
            Incident.task_id == task_id,
            Incident.status == "open",
        )
    ):
        _close(step, row, "resolved")
    step.db.execute(
        delete(Job).where(
            Job.instance_id == step.instance.id, Job.task_id == task_id, Job.kind == "retry"
        )
    )


def _close(step: "Step", row: Incident, status: str) -> None:
    """Close an incident and record it."""
    row.status, row.resolved_at = status, step.now
    step.record(f"incident_{status}", step.task(row.task_id), {"incident": row.id})


def _schedule_retry(step: "Step", task_id: str, due: datetime) -> None:
    """Schedule (or move) the retry job of a failed service task."""
    job = step.session.scalar(
        select(Job).where(
            Job.instance_id == step.instance.id, Job.task_id == task_id, Job.kind == "retry"
        )
    )
    if job is None:
        step.session.add(
            Job(instance_id=step.instance.id, task_id=task_id, kind="retry", due_at=due)
        )
    else:
        job.due_at, job.locked_by, job.locked_until = due, None, None
