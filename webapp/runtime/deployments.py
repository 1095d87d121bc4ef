"""Four eyes on process changes: a proposed deployment waits for a second person's decision.

A deployment proposed by a person (in the browser) is `pending`: its process versions exist,
so they can be viewed, diffed and tested, but no instance starts on them and they are not the
version anything else reads as current. Another person approves it, and it takes effect, or
rejects it; the author never decides their own. A deployment made by the server's operator
(`tirkeu deploy`, `tirkeu init`) is approved at once. The decision, who and when, stays on the
deployment's row.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, ProcessVersion

from .errors import Conflict, Forbidden, NotFound

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
# The versions that may run: join this to process_version wherever "the current version" is read.
IN_EFFECT = (Deployment.id == ProcessVersion.deployment_id) & (Deployment.status == APPROVED)


@dataclass(frozen=True)
class DeploymentView:
    """A deployment with its process versions and the decision on it."""

    id: int
    status: str
    deployed_by: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    versions: tuple[tuple[str, int], ...] = field(default=())


def view(session: Session, deployment: Deployment) -> DeploymentView:
    """Return the view of a deployment row."""
    versions = session.execute(
        select(ProcessVersion.process_id, ProcessVersion.version)
        .where(ProcessVersion.deployment_id == deployment.id)
        .order_by(ProcessVersion.process_id)
    ).all()
    return DeploymentView(
        deployment.id,
        deployment.status,
        deployment.deployed_by,
        deployment.created_at,
        deployment.decided_by,
        deployment.decided_at,
        tuple((process_id, version) for process_id, version in versions),
    )


def one(session: Session, deployment_id: int) -> DeploymentView:
    """Return one deployment, or raise NotFound."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id}")
    return view(session, deployment)


def listed(session: Session, status: str | None, limit: int) -> list[DeploymentView]:
    """Return the newest deployments, of one status or all."""
    query = select(Deployment).order_by(Deployment.id.desc()).limit(limit)
    if status is not None:
        if status not in STATUSES:
            raise NotFound(f"no deployment status {status!r} (known: {', '.join(STATUSES)})")
        query = query.where(Deployment.status == status)
    return [view(session, row) for row in session.scalars(query)]


def decide(
    session: Session, deployment_id: int, actor: str, status: str, now: datetime
) -> DeploymentView:
    """Approve or reject a pending deployment as `actor`, who must not be its author."""
    deployment = session.scalar(
        select(Deployment).where(Deployment.id == deployment_id).with_for_update()
    )
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id}")
    if deployment.status != PENDING:
        raise Conflict(
            f"deployment {deployment_id} was {deployment.status} already by "
            f"{deployment.decided_by or 'its deployer'}"
        )
    if not actor:
        raise Forbidden(f"a decision on deployment {deployment_id} needs the person who takes it")
    if actor == deployment.deployed_by:
        raise Forbidden(
            f"deployment {deployment_id} was proposed by {actor}: another person decides on it"
        )
    deployment.status = status
    deployment.decided_by = actor
    deployment.decided_at = now
    session.flush()
    return view(session, deployment)
