"""History retention: ended instances older than an age written to gzip JSON lines and removed."""

import base64
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from .db.base import utcnow
from .db.models import HumanTask, Incident, Instance, InstanceEvent, Job, MessageSubscription

ENDED = ("completed", "terminated")
BATCH_SIZE = 200
CHILDREN = (InstanceEvent, HumanTask, Incident, Job, MessageSubscription)


@dataclass(frozen=True)
class ArchiveResult:
    """What one archive run did: instances and events moved, and where to."""

    path: Path
    instances: int
    events: int


def row_dict(row: Any) -> dict[str, Any]:
    """Return a mapped row's columns as JSON values (bytes as base64, times as ISO)."""
    document = {}
    for column in inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, datetime):
            value = value.isoformat()
        document[column.key] = value
    return document


def default_path(folder: Path, now: datetime) -> Path:
    """Return the archive file name for a run at `now`."""
    return folder / f"archive-{now:%Y%m%dT%H%M%S}.jsonl.gz"


def _batch(session: Session, before: datetime, after_id: int, size: int) -> list[Instance]:
    query = (
        select(Instance)
        .where(Instance.status.in_(ENDED), Instance.completed_at < before, Instance.id > after_id)
        .order_by(Instance.id)
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        # A step still holding an instance's lock is left for the next run.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _documents(session: Session, instances: list[Instance]) -> Iterator[dict[str, Any]]:
    ids = [instance.id for instance in instances]
    children: dict[str, dict[int, list]] = {}
    for model in CHILDREN:
        rows = session.scalars(
            select(model).where(model.instance_id.in_(ids)).order_by(model.id)
        ).all()
        grouped = children.setdefault(model.__tablename__, {})
        for row in rows:
            grouped.setdefault(row.instance_id, []).append(row_dict(row))
    for instance in instances:
        document: dict[str, Any] = {"instance": row_dict(instance)}
        for table, grouped in children.items():
            document[table] = grouped.get(instance.id, [])
        yield document


def _remove(session: Session, ids: list[int]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL tirkeu.archiving = 'on'"))
    for model in CHILDREN:
        session.execute(delete(model).where(model.instance_id.in_(ids)))
    session.execute(delete(Instance).where(Instance.id.in_(ids)))


def count_archivable(sessions: sessionmaker[Session], before: datetime) -> int:
    """Return how many ended instances finished before the moment."""
    with sessions.begin() as session:
        return len(
            session.scalars(
                select(Instance.id).where(
                    Instance.status.in_(ENDED), Instance.completed_at < before
                )
            ).all()
        )


def archive(
    sessions: sessionmaker[Session],
    older_than: timedelta,
    output: Path,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> ArchiveResult:
    """Move ended instances older than the age to `output`, one batch per transaction.

    Each batch is written and flushed to the file before its transaction deletes the rows, so
    a crash between the two leaves the instance in both places, never in neither; memory
    holds one batch at a time whatever the history's size.
    """
    before = (now or utcnow()) - older_than
    output.parent.mkdir(parents=True, exist_ok=True)
    instances = events = 0
    last_id = 0
    with gzip.open(output, "at", encoding="utf-8") as file:
        while True:
            with sessions.begin() as session:
                batch = _batch(session, before, last_id, batch_size)
                if not batch:
                    break
                for document in _documents(session, batch):
                    file.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
                    events += len(document["instance_event"])
                file.flush()
                last_id = batch[-1].id
                _remove(session, [instance.id for instance in batch])
            instances += len(batch)
            if progress is not None:
                progress(len(batch))
    return ArchiveResult(output, instances, events)
