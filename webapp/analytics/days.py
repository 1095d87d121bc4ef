"""The dashboard's figures read from the audit log and the task rows, kept per day once final.

Counting element completions means reading every completion of the scope, most of the audit
log; for a week that is hundreds of thousands of rows. What a completed instance's events say
no longer changes, so the figures of the completed instances started on one UTC day are
computed once (by the worker, or by the first dashboard that reads the day) and kept in
`dashboard_day`; everything else (running or ended otherwise, and
the partial days at the ends of the range) is computed on every read. The count, id sum and
exact sum of lead times of a day's completed instances, all known from the scope's instance
rows, are checked on every read: an instance that completes, moves to another version or is
archived changes them, and the day is computed again.
Durations are kept whole, not summarised, so that percentiles over several days stay exact.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.db.analytics import DashboardDay
from webapp.db.models import HumanTask, Instance, InstanceEvent

from .scope import ScopeRows, scope_rows
from .sql import seconds_between
from .trace import FIRST_EVENTS

Element = tuple[str | None, str | None]
# Live instances are read this many at a time: their ids are sent as bound parameters.
CHUNK = 1000


@dataclass
class TaskTime:
    """How many completed user tasks of one element there were and their total seconds."""

    name: str
    count: int
    waiting: float
    working: float


@dataclass
class EventFigures:
    """Completions and durations per element, and user task time per task, of some instances."""

    completions: dict[Element, int] = field(default_factory=dict)
    durations: dict[Element, list[float]] = field(default_factory=dict)
    tasks: dict[str, TaskTime] = field(default_factory=dict)

    def add(self, other: "EventFigures") -> None:
        """Add another set of instances' figures to these."""
        for key, n in other.completions.items():
            self.completions[key] = self.completions.get(key, 0) + n
        for key, values in other.durations.items():
            self.durations.setdefault(key, []).extend(values)
        for bpmn_id, task in other.tasks.items():
            mine = self.tasks.get(bpmn_id)
            if mine is None:
                self.tasks[bpmn_id] = TaskTime(task.name, task.count, task.waiting, task.working)
                continue
            mine.name = max(mine.name, task.name)
            mine.count += task.count
            mine.waiting += task.waiting
            mine.working += task.working

    def as_json(self) -> dict:
        """Return the figures as JSON-ready lists."""
        return {
            "elements": [
                [bpmn_id, name, n, self.durations.get((bpmn_id, name), [])]
                for (bpmn_id, name), n in self.completions.items()
            ],
            "tasks": [
                [bpmn_id, t.name, t.count, t.waiting, t.working]
                for bpmn_id, t in self.tasks.items()
            ],
        }

    @classmethod
    def from_json(cls, value: dict) -> "EventFigures":
        """Return the figures kept by `as_json`."""
        figures = cls()
        for bpmn_id, name, n, durations in value["elements"]:
            figures.completions[bpmn_id, name] = n
            if durations:
                figures.durations[bpmn_id, name] = durations
        for bpmn_id, name, count, waiting, working in value["tasks"]:
            figures.tasks[bpmn_id] = TaskTime(name, count, waiting, working)
        return figures


def event_figures(
    session: Session, version_id: int, since: datetime, until: datetime, rows: ScopeRows
) -> EventFigures:
    """Return the event figures of the scope's instances, started in [since, until)."""
    first = since.astimezone(UTC).date()
    if datetime.combine(first, time(), UTC) < since:
        first += timedelta(days=1)
    whole_days = (until - datetime.combine(first, time(), UTC)).days
    whole = {first + timedelta(days=n) for n in range(max(0, whole_days))}
    # Days come as the database gives them: each distinct one is converted once.
    whole_keys = {key: as_date(key) for key in set(rows.created) if as_date(key) in whole}
    live: list[int] = []
    days: dict[date, tuple[list[int], list[float]]] = {}
    for id_, lead, created, completed in zip(
        rows.ids, rows.lead, rows.created, rows.completed, strict=True
    ):
        if completed is None or created not in whole_keys:
            live.append(id_)
        else:
            ids, leads = days.setdefault(whole_keys[created], ([], []))
            ids.append(id_)
            leads.append(lead)
    figures = compute(session, live)
    kept = {
        row.day: row
        for row in session.scalars(
            select(DashboardDay).where(
                DashboardDay.process_version_id == version_id, DashboardDay.day.in_(list(days))
            )
        )
    }
    stored = False
    for day, (ids, leads) in sorted(days.items()):
        fingerprint = (len(ids), sum(ids), math.fsum(leads))
        row = kept.get(day)
        if row is not None and (row.instances, row.id_sum, row.lead_sum) == fingerprint:
            figures.add(EventFigures.from_json(row.figures))
            continue
        # From these very instances, so that the figures kept are those of the fingerprint.
        day_figures = compute(session, ids)
        figures.add(day_figures)
        stored |= keep(session, version_id, day, fingerprint, day_figures)
    if stored:
        session.commit()
    return figures


def keep_recent_days(session: Session, now: datetime, days: int = 7) -> None:
    """Compute and keep the last `days` whole UTC days of every version started in them.

    The worker calls this now and then, so that a dashboard reads those days instead of
    computing them; days already kept and still right cost their check alone.
    """
    until = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    since = until - timedelta(days=days)
    started = and_(Instance.created_at >= since, Instance.created_at < until)
    versions = session.scalars(select(Instance.process_version_id).where(started).distinct())
    for version_id in versions.all():
        rows = scope_rows(session, and_(Instance.process_version_id == version_id, started))
        event_figures(session, version_id, since, until, rows)


def keep(session: Session, version_id: int, day: date, fingerprint, figures) -> bool:
    """Store a day's figures in place of older ones; return False if another reader won."""
    n, ids, leads = fingerprint
    try:
        with session.begin_nested():
            session.execute(
                delete(DashboardDay).where(
                    DashboardDay.process_version_id == version_id, DashboardDay.day == day
                )
            )
            session.execute(
                insert(DashboardDay).values(
                    process_version_id=version_id,
                    day=day,
                    instances=n,
                    id_sum=ids,
                    lead_sum=leads,
                    figures=figures.as_json(),
                )
            )
    except IntegrityError:
        # A concurrent dashboard stored the same day first; its figures are the same.
        return False
    return True


def compute(session: Session, ids: list[int]) -> EventFigures:
    """Return the event figures of some instances, from the source rows, CHUNK at a time."""
    figures = EventFigures()
    for n in range(0, len(ids), CHUNK):
        figures.add(compute_chunk(session, ids[n : n + CHUNK]))
    return figures


def compute_chunk(session: Session, scope: list[int]) -> EventFigures:
    """Return the event figures of a few instances, from the source rows.

    Only completions with a start event (a user task, a wait, a failure) take time; the rest,
    most of the log, are counted and take none.
    """
    completed = and_(InstanceEvent.instance_id.in_(scope), InstanceEvent.kind == "task_completed")
    # Core, not the ORM: plain columns, as many rows as the scope's timed tasks.
    connection = session.connection()
    figures = EventFigures()
    for bpmn_id, name, n in connection.execute(
        select(InstanceEvent.bpmn_id, InstanceEvent.name, func.count())
        .where(completed)
        .group_by(InstanceEvent.bpmn_id, InstanceEvent.name)
    ):
        figures.completions[bpmn_id, name] = n
    starts = (
        select(
            InstanceEvent.instance_id,
            InstanceEvent.task_id,
            func.min(InstanceEvent.at).label("started"),
        )
        .where(InstanceEvent.instance_id.in_(scope), InstanceEvent.kind.in_(FIRST_EVENTS))
        .group_by(InstanceEvent.instance_id, InstanceEvent.task_id)
        .subquery()
    )
    for bpmn_id, name, seconds in connection.execute(
        select(
            InstanceEvent.bpmn_id,
            InstanceEvent.name,
            seconds_between(starts.c.started, InstanceEvent.at),
        )
        .join(
            starts,
            and_(
                starts.c.instance_id == InstanceEvent.instance_id,
                starts.c.task_id == InstanceEvent.task_id,
            ),
        )
        .where(completed)
    ):
        figures.durations.setdefault((bpmn_id, name), []).append(float(seconds))
    claimed = func.coalesce(HumanTask.claimed_at, HumanTask.completed_at)
    for bpmn_id, name, count, waiting, working in connection.execute(
        select(
            HumanTask.bpmn_id,
            func.max(HumanTask.name),
            func.count(),
            func.sum(seconds_between(HumanTask.created_at, claimed)),
            func.sum(seconds_between(claimed, HumanTask.completed_at)),
        )
        .where(HumanTask.instance_id.in_(scope), HumanTask.state == "completed")
        .group_by(HumanTask.bpmn_id)
    ):
        figures.tasks[bpmn_id] = TaskTime(name, count, float(waiting), float(working))
    return figures


def as_date(value) -> date:
    """Return a day as the database gives it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
