"""Event-log export for process mining, as XES (IEEE 1849) or CSV, streamed in constant memory.

Each instance is a trace named by its business key. A task's first event (ready for a user
task, waiting for a catching event) is its `start`; its completion is its `complete`, with the
user who completed it as the resource. Gateways and the start and end events are routing, not
activities, and are left out. Instances are read in keyset batches, each batch in its own short
session, so an export of any size holds neither more than a batch in memory nor a transaction
open.
"""

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

# quoteattr escapes the attributes we write; nothing here parses XML.
from xml.sax.saxutils import quoteattr  # nosec B406

from sqlalchemy import not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from webapp.db.base import utcnow
from webapp.db.models import Instance, InstanceEvent
from webapp.privacy import NOTHING, View

from .cells import cell
from .instances import ALL_INSTANCES, InstanceFilter, filtered

LIFECYCLE = {"task_ready": "start", "task_waiting": "start", "task_completed": "complete"}
ROUTING_TYPES = ("StartEvent", "EndEvent")
CSV_COLUMNS = ("case_id", "activity", "timestamp", "lifecycle", "resource")
CHUNK = 64 * 1024
XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">
<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
<global scope="trace"><string key="concept:name" value="UNKNOWN"/></global>
<global scope="event"><string key="concept:name" value="UNKNOWN"/><date key="time:timestamp" \
value="1970-01-01T00:00:00.000+00:00"/><string key="lifecycle:transition" value="complete"/>\
</global>
<classifier name="Activity" keys="concept:name"/>
<classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
"""

Progress = Callable[[int, int], None]


def export_events(
    session_factory: sessionmaker[Session],
    filters: InstanceFilter = ALL_INSTANCES,
    batch: int = 500,
    progress: Progress | None = None,
    view: View = NOTHING,
) -> Iterator[tuple[str, str, datetime, str, str | None]]:
    """Yield (case id, activity, timestamp, lifecycle, resource) per event, case by case.

    The resource is a user name, which may be a person's IIN: it is shown as `view` may.
    """
    now = utcnow()
    after, cases, events = 0, 0, 0
    while True:
        with session_factory() as session:
            page = session.execute(
                filtered(filters, now, view)
                .with_only_columns(Instance.id, Instance.business_key)
                .where(Instance.id > after)
                .order_by(Instance.id)
                .limit(batch)
            ).all()
            if not page:
                return
            keys = {row.id: row.business_key or str(row.id) for row in page}
            rows = session.execute(
                select(
                    InstanceEvent.instance_id,
                    InstanceEvent.name,
                    InstanceEvent.at,
                    InstanceEvent.kind,
                    InstanceEvent.task_type,
                    InstanceEvent.actor,
                )
                .where(
                    InstanceEvent.instance_id.in_(keys),
                    InstanceEvent.kind.in_(LIFECYCLE),
                    or_(
                        InstanceEvent.task_type.is_(None),
                        not_(InstanceEvent.task_type.in_(ROUTING_TYPES))
                        & not_(InstanceEvent.task_type.like("%Gateway")),
                    ),
                )
                .order_by(InstanceEvent.instance_id, InstanceEvent.id)
            ).all()
        # The batch is read and its session closed before the reader gets a row: a slow
        # reader must not hold a transaction (on SQLite, the write lock) open.
        for instance_id, name, at, kind, task_type, actor in rows:
            lifecycle = LIFECYCLE[kind]
            # A step's events carry the actor of the step; only a user task's completion is
            # that person's work.
            resource = actor if task_type == "UserTask" and lifecycle == "complete" else None
            if resource:
                resource = view.text(resource)
            yield keys[instance_id], name, at, lifecycle, resource
        events += len(rows)
        after, cases = page[-1].id, cases + len(page)
        # Let this batch go before the next is read, or two batches would be held at once.
        del rows, page, keys
        if progress is not None:
            progress(cases, events)


def timestamp(value: datetime) -> str:
    """Return a UTC timestamp as XES and CSV readers expect it (milliseconds, with the zone)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def chunked(lines: Iterator[str]) -> Iterator[str]:
    """Join lines into chunks of about CHUNK characters."""
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def export_csv(
    session_factory: sessionmaker[Session],
    filters: InstanceFilter = ALL_INSTANCES,
    progress: Progress | None = None,
    batch: int = 500,
    view: View = NOTHING,
) -> Iterator[str]:
    """Yield the event log as CSV chunks: case_id, activity, timestamp, lifecycle, resource."""

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for case, activity, at, lifecycle, resource in export_events(
            session_factory, filters, batch, progress, view
        ):
            row = (case, activity, timestamp(at), lifecycle, resource or "")
            writer.writerow([cell(value) for value in row])
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return lines()


def export_xes(
    session_factory: sessionmaker[Session],
    filters: InstanceFilter = ALL_INSTANCES,
    progress: Progress | None = None,
    batch: int = 500,
    view: View = NOTHING,
) -> Iterator[str]:
    """Yield the event log as XES chunks: one trace per instance, named by its business key."""

    def lines() -> Iterator[str]:
        yield XES_HEAD
        if filters.process_id:
            yield f'<string key="concept:name" value={quoteattr(filters.process_id)}/>\n'
        current = None
        for case, activity, at, lifecycle, resource in export_events(
            session_factory, filters, batch, progress, view
        ):
            if case != current:
                if current is not None:
                    yield "</trace>\n"
                yield f'<trace><string key="concept:name" value={quoteattr(case)}/>\n'
                current = case
            resource_attribute = (
                f'<string key="org:resource" value={quoteattr(resource)}/>' if resource else ""
            )
            yield (
                f'<event><string key="concept:name" value={quoteattr(activity or "")}/>'
                f'<date key="time:timestamp" value="{timestamp(at)}"/>'
                f'<string key="lifecycle:transition" value="{lifecycle}"/>'
                f"{resource_attribute}</event>\n"
            )
        if current is not None:
            yield "</trace>\n"
        yield "</log>\n"

    return chunked(lines())
