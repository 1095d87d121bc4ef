"""A retry that answers what happened: the failed task ran, or failed again and why."""

from dataclasses import dataclass

from sqlalchemy import select

from webapp.db.models import Incident
from webapp.runtime.engine import Runtime


@dataclass(frozen=True)
class RetryOutcome:
    """What one retry of an incident did: `retried` (the task ran) or `failed_again`."""

    incident_id: int
    instance_id: int
    outcome: str
    attempts: int
    message: str | None


def retry(runtime: Runtime, incident_id: int, actor: str) -> RetryOutcome:
    """Retry an incident's task now and report whether the incident closed.

    The step keeps the incident open (one attempt more, the new error) when the task fails
    again, so the incident row after the step is the answer.
    """
    runtime.retry_incident(incident_id, actor)
    with runtime.transaction() as session:
        row = session.execute(
            select(
                Incident.instance_id, Incident.status, Incident.attempts, Incident.message
            ).where(Incident.id == incident_id)
        ).one()
    still_open = row.status == "open"
    return RetryOutcome(
        incident_id=incident_id,
        instance_id=row.instance_id,
        outcome="failed_again" if still_open else "retried",
        attempts=row.attempts,
        message=row.message if still_open else None,
    )
