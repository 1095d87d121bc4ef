"""Thrown messages: kept as jobs in the step's transaction, delivered after it commits."""

from datetime import datetime
from uuid import uuid4

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from sqlalchemy import delete
from sqlalchemy.orm import Session

from webapp.db.models import Job

from .errors import Conflict
from .instance_data import json_safe

MESSAGE_JOB = "message"


def outbox(workflow, instance_id: int, now: datetime) -> list[dict]:
    """Return the job rows of the messages a workflow threw to other instances."""
    jobs = []
    for event in workflow.get_events():
        definition = event.event_definition
        if not isinstance(definition, MessageEventDefinition):
            continue
        correlation = {}
        for values in event.correlations.values():
            correlation.update(values)
        message = {
            "name": definition.name,
            "payload": json_safe(event.payload or {}),
            "correlation": correlation,
        }
        jobs.append(
            {
                "instance_id": instance_id,
                "task_id": str(uuid4()),
                "kind": MESSAGE_JOB,
                "due_at": now,
                "payload": message,
            }
        )
    return jobs


def consume(session: Session, outbox_job: int | None) -> None:
    """Remove a thrown message's job in the transaction delivering it, or refuse a second one."""
    if outbox_job is None:
        return
    if session.execute(delete(Job).where(Job.id == outbox_job)).rowcount != 1:
        raise Conflict(f"the message of job {outbox_job} was delivered already")
