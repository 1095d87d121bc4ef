"""The instance list: filters, search by application number or IIN, keyset pagination."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from webapp.db.base import utcnow
from webapp.db.models import (
    SEARCHED_SUMMARY_FIELDS,
    HumanTask,
    Incident,
    Instance,
    ProcessVersion,
)
from webapp.db.summary import summary_text
from webapp.privacy import IIN, NOTHING, View
from webapp.runtime.errors import Forbidden

from .cells import cell

OPEN_TASK_STATES = ("ready", "claimed")
IIN_FIELDS = SEARCHED_SUMMARY_FIELDS


@dataclass(frozen=True)
class InstanceFilter:
    """What the list is narrowed to; every field left None (or False) does not filter."""

    process_id: str | None = None
    version: int | None = None
    status: str | None = None
    outcome: str | None = None
    refusal_reason: str | None = None
    channel: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    overdue: bool = False
    search: str | None = None
    incident: bool = False


ALL_INSTANCES = InstanceFilter()


@dataclass(frozen=True)
class InstanceRow:
    """One instance as the list shows it."""

    id: int
    process_id: str
    version: int
    business_key: str | None
    status: str
    channel: str | None
    registration_type: str | None
    outcome: str | None
    refusal_reason: str | None
    applicant_iin: str | None
    person_iin: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class InstancePage:
    """A page of the list, newest first; `next_after` is the cursor of the next page."""

    rows: tuple[InstanceRow, ...]
    next_after: int | None


def summary_field(name: str):
    """Return a searchable data field of an instance's summary as text."""
    return Instance.summary[name].as_string()


def filtered(filters: InstanceFilter, now: datetime, view: View = NOTHING):
    """Return the list's query with every filter applied, unordered.

    A search by IIN is refused to a viewer who may not see IINs: even an empty answer would
    tell them whether that person applied.
    """
    query = select(
        Instance.id,
        Instance.process_id,
        ProcessVersion.version,
        Instance.business_key,
        Instance.status,
        Instance.summary,
        Instance.created_at,
        Instance.completed_at,
    ).join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
    if filters.process_id:
        query = query.where(Instance.process_id == filters.process_id)
    if filters.version is not None:
        # By the version's id, so that the instance index on it serves the list.
        versions = select(ProcessVersion.id).where(ProcessVersion.version == filters.version)
        if filters.process_id:
            versions = versions.where(ProcessVersion.process_id == filters.process_id)
        query = query.where(Instance.process_version_id.in_(versions))
    if filters.status:
        query = query.where(Instance.status == filters.status)
    for name in ("outcome", "refusal_reason", "channel"):
        value = getattr(filters, name)
        if value:
            query = query.where(summary_field(name) == value)
    if filters.created_from is not None:
        query = query.where(Instance.created_at >= filters.created_from)
    if filters.created_until is not None:
        query = query.where(Instance.created_at < filters.created_until)
    if filters.overdue:
        # The few overdue tasks are found by index first, rather than probing every instance.
        query = query.where(
            Instance.id.in_(
                select(HumanTask.instance_id).where(
                    HumanTask.state.in_(OPEN_TASK_STATES), HumanTask.due_at < now
                )
            )
        )
    if filters.incident:
        # The few instances with an open incident are found by the incident index first.
        query = query.where(
            Instance.id.in_(select(Incident.instance_id).where(Incident.status == "open"))
        )
    search = (filters.search or "").strip()
    if search:
        if IIN.fullmatch(search):
            if not view.may_search_by_iin:
                raise Forbidden("searching by IIN needs a role that may see IINs")
            query = query.where(
                or_(*(summary_text(Instance.summary, name) == search for name in IIN_FIELDS))
            )
        else:
            query = query.where(Instance.business_key == search)
    return query


def list_instances(
    session: Session,
    filters: InstanceFilter = ALL_INSTANCES,
    after: int | None = None,
    limit: int = 50,
    view: View = NOTHING,
    now: datetime | None = None,
) -> InstancePage:
    """Return one page of instances, newest first, after the cursor of the previous page.

    The cursor is the last id shown: ids grow with creation, so `id < after` walks the list
    by the primary key without OFFSET, and a page stays the same however deep it is and
    whatever starts meanwhile. Personal data is shown as the viewer may see it.
    """
    query = filtered(filters, now or utcnow(), view)
    if after is not None:
        query = query.where(Instance.id < after)
    rows = session.execute(query.order_by(Instance.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    page = tuple(instance_row(row, view) for row in rows[:limit])
    return InstancePage(page, page[-1].id if more and page else None)


def instance_row(row, view: View) -> InstanceRow:
    """Build a list row from a query row, its personal data as the viewer may see it."""
    summary = view(row.summary or {})
    return InstanceRow(
        id=row.id,
        process_id=row.process_id,
        version=row.version,
        business_key=row.business_key,
        status=row.status,
        channel=summary.get("channel"),
        registration_type=summary.get("registration_type"),
        outcome=summary.get("outcome"),
        refusal_reason=summary.get("refusal_reason"),
        applicant_iin=summary.get("applicant_iin"),
        person_iin=summary.get("person_iin"),
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def instances_csv(
    session_factory: sessionmaker[Session],
    filters: InstanceFilter = ALL_INSTANCES,
    view: View = NOTHING,
    page_size: int = 500,
) -> Iterator[str]:
    """Yield the filtered list as CSV, a page per chunk, each page in its own short session."""
    columns = [field.name for field in fields(InstanceRow)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    after = None
    now = utcnow()
    while True:
        with session_factory() as session:
            page = list_instances(session, filters, after, page_size, view, now)
        for row in page.rows:
            writer.writerow(
                [
                    value.isoformat() if isinstance(value, datetime) else cell(value)
                    for value in (getattr(row, name) for name in columns)
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next_after is None:
            return
        after = page.next_after
