"""Batch retry and batch terminate over the instances a filter finds, a chunk at a time.

A batch is previewed (how many instances it takes, and the highest id among them), then run in
chunks: each chunk takes the next few of those instances by id and changes each in its own step
transaction, so a failure stops nothing but that instance's change. Whoever runs the batch (the
progress page, the command line) asks for the next chunk after the last id it saw, until none
is left; nothing is kept between chunks but that cursor. Running a batch again after it was
interrupted takes up what is left: a retried instance no longer has an open incident, a
terminated one has ended, and instances started after the preview are never taken.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.analytics.instances import InstanceFilter, filtered
from webapp.db.base import utcnow
from webapp.db.models import Incident, Instance
from webapp.privacy import View
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import InvalidData, TirkeuError

from .retries import retry

KINDS = ("retry", "terminate")
ENDED = ("completed", "terminated")
CHUNK = 10


@dataclass(frozen=True)
class BatchPreview:
    """How many instances a batch takes, and the highest id among them (its end)."""

    kind: str
    count: int
    upto: int | None


@dataclass(frozen=True)
class BatchResult:
    """What a batch did to one instance: its outcome and the message that says more."""

    instance_id: int
    business_key: str | None
    outcome: str
    message: str | None


@dataclass(frozen=True)
class Chunk:
    """The results of one chunk; `after` is the cursor of the next, None when all are done."""

    results: tuple[BatchResult, ...]
    after: int | None


def checked_kind(kind: str) -> str:
    """Return a batch kind, or refuse one that is not."""
    if kind not in KINDS:
        raise InvalidData(f"no batch {kind!r}", {"kind": f"one of {', '.join(KINDS)}"})
    return kind


def taken(kind: str, filters: InstanceFilter, now: datetime, view: View):
    """Return the query of the instances a batch of this kind takes, by the list's filters."""
    query = filtered(filters, now, view)
    if checked_kind(kind) == "retry":
        query = query.where(
            Instance.id.in_(select(Incident.instance_id).where(Incident.status == "open"))
        )
    else:
        query = query.where(Instance.status.not_in(ENDED))
    return query


def preview(session: Session, kind: str, filters: InstanceFilter, view: View) -> BatchPreview:
    """Count the instances a batch would take now."""
    found = taken(kind, filters, utcnow(), view).subquery()
    count, upto = session.execute(select(func.count(), func.max(found.c.id))).one()
    return BatchPreview(kind, count, upto)


def run_chunk(
    runtime: Runtime,
    kind: str,
    filters: InstanceFilter,
    view: View,
    actor: str,
    upto: int,
    after: int = 0,
    size: int = CHUNK,
) -> Chunk:
    """Retry or terminate the next `size` instances of a batch, each in its own step."""
    with runtime.transaction() as session:
        rows = session.execute(
            taken(kind, filters, utcnow(), view)
            .where(Instance.id > after, Instance.id <= upto)
            .order_by(Instance.id)
            .limit(size + 1)
        ).all()
    act = retry_instance if kind == "retry" else terminate_instance
    results = tuple(act(runtime, row.id, row.business_key, actor) for row in rows[:size])
    return Chunk(results, rows[size - 1].id if len(rows) > size else None)


def _result(instance_id: int, key: str | None, outcome: str, message: str | None = None):
    return BatchResult(instance_id, key, outcome, message)


def retry_instance(runtime: Runtime, instance_id: int, key: str | None, actor: str):
    """Retry every open incident of an instance; report whether any failed again."""
    with runtime.transaction() as session:
        incidents = session.scalars(
            select(Incident.id)
            .where(Incident.instance_id == instance_id, Incident.status == "open")
            .order_by(Incident.id)
        ).all()
    if not incidents:
        return _result(instance_id, key, "skipped", "no open incident any more")
    failures = []
    for incident_id in incidents:
        try:
            outcome = retry(runtime, incident_id, actor)
        except TirkeuError as error:
            failures.append(error.message)
            continue
        if outcome.outcome == "failed_again":
            failures.append(f"attempt {outcome.attempts}: {outcome.message}")
    if failures:
        return _result(instance_id, key, "failed_again", "; ".join(failures))
    return _result(instance_id, key, "retried")


def terminate_instance(runtime: Runtime, instance_id: int, key: str | None, actor: str):
    """Terminate an instance; one that ended meanwhile is skipped."""
    return _guarded(lambda: runtime.terminate(instance_id, actor), instance_id, key, "terminated")


def _guarded(act: Callable[[], object], instance_id: int, key: str | None, outcome: str):
    try:
        act()
    except TirkeuError as error:
        return _result(instance_id, key, "skipped", error.message)
    return _result(instance_id, key, outcome)
