"""The dashboard's figures of a scope, those of completed instances kept per day once final.

What a completed instance's row and events say no longer changes, so the figures of the
completed instances of a version started on one UTC day are computed once (by the worker, or
by the first dashboard that reads the day) and kept in `dashboard_day`; everything else
(instances still running, and the partial days at the ends of a range) is read from the
source rows on every read. Each kept day is checked on every read against the count, id sum
and sum of lead times of the day's completed instances, one grouped query over an index: an
instance that completes, moves to another version or is archived changes them, and the day
is computed again. Lead times and durations are kept whole, not summarised, so that
percentiles over several days stay exact.
"""

import math
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, delete, func, insert, not_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.db.analytics import DashboardDay
from webapp.db.base import utcnow
from webapp.db.models import Instance

from .events import as_date, compute
from .scope import Figures, row_figures, scope_rows
from .sql import seconds_between, utc_day

# Lead times are summed in another order by the database: this much difference is rounding.
LEAD_SUM_TOLERANCE = 0.01


def scope_figures(session: Session, version_id: int, since: datetime, until: datetime) -> Figures:
    """Return the figures of the version's instances started in [since, until)."""
    kept, live, fresh = refresh_days(session, version_id, since, until)
    figures = row_figures(live)
    figures.events = compute(session, [row.id for row in live])
    for day_figures in fresh:
        figures.add(day_figures)
    for row in kept:
        figures.add(Figures.from_json(row.figures))
    return figures


def refresh_days(
    session: Session, version_id: int, since: datetime, until: datetime
) -> tuple[list[DashboardDay], list[Row], list[Figures]]:
    """Keep the figures of the scope's whole days that are not kept, or no longer right.

    Return the days that were kept and still are right, the rows of the instances read live,
    and the figures of the days kept now. Each day is committed once kept, so that on SQLite
    the write lock is held for one day at a time.
    """
    first, last = whole_days(since, until)
    kept = valid_days(session, version_id, first, last)
    in_scope = and_(
        Instance.process_version_id == version_id,
        Instance.created_at >= since,
        Instance.created_at < until,
    )
    if kept:
        covered = or_(
            *(
                and_(Instance.created_at >= start, Instance.created_at < end)
                for start, end in spans(kept)
            )
        )
        in_scope = and_(in_scope, or_(Instance.completed_at.is_(None), not_(covered)))
    live: list[Row] = []
    days: dict[date, list[Row]] = {}
    day_of: dict = {}
    for row in scope_rows(session, in_scope):
        if row.completed is not None:
            if row.created not in day_of:
                day_of[row.created] = as_date(row.created)
            day = day_of[row.created]
            if first <= day < last:
                days.setdefault(day, []).append(row)
                continue
        live.append(row)
    fresh = []
    for day, rows in sorted(days.items()):
        day_figures = row_figures(rows)
        day_figures.events = compute(session, [row.id for row in rows])
        fresh.append(day_figures)
        if keep(session, version_id, day, rows, day_figures):
            session.commit()
    return list(kept.values()), live, fresh


def whole_days(since: datetime, until: datetime) -> tuple[date, date]:
    """Return the first whole past UTC day of [since, until) and the day after its last one.

    Today is not whole yet: what completes today is read live until the day is over.
    """
    first = since.astimezone(UTC).date()
    if midnight(first) < since:
        first += timedelta(days=1)
    last = min(until.astimezone(UTC).date(), utcnow().date())
    return first, max(first, last)


def midnight(day: date) -> datetime:
    """Return the start of a UTC day."""
    return datetime.combine(day, time(), UTC)


def spans(days) -> list[tuple[datetime, datetime]]:
    """Return the runs of consecutive days as [start, end) times."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1][1] = day + timedelta(days=1)
        else:
            runs.append([day, day + timedelta(days=1)])
    return [(midnight(start), midnight(end)) for start, end in runs]


def valid_days(session: Session, version_id: int, first: date, last: date) -> dict:
    """Return the kept days in [first, last) whose completed instances are still those kept."""
    if first >= last:
        return {}
    day = utc_day(Instance.created_at)
    fingerprints = {
        as_date(created): (n, int(ids), float(leads))
        for created, n, ids, leads in session.execute(
            select(
                day,
                func.count(),
                func.sum(Instance.id),
                func.sum(seconds_between(Instance.created_at, Instance.completed_at)),
            )
            .where(
                Instance.process_version_id == version_id,
                Instance.created_at >= midnight(first),
                Instance.created_at < midnight(last),
                Instance.completed_at.is_not(None),
            )
            .group_by(day)
        )
    }
    kept = session.scalars(
        select(DashboardDay).where(
            DashboardDay.process_version_id == version_id,
            DashboardDay.day.in_(list(fingerprints)),
        )
    )
    return {
        row.day: row
        for row in kept
        if (row.instances, row.id_sum) == fingerprints[row.day][:2]
        and math.isclose(row.lead_sum, fingerprints[row.day][2], abs_tol=LEAD_SUM_TOLERANCE)
    }


def keep(session: Session, version_id: int, day: date, rows: list[Row], figures: Figures) -> bool:
    """Store a day's figures in place of older ones; return False if another reader won."""
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
                    instances=len(rows),
                    id_sum=sum(row.id for row in rows),
                    lead_sum=math.fsum(row.lead for row in rows),
                    figures=figures.as_json(),
                )
            )
    except IntegrityError:
        # A concurrent dashboard stored the same day first; its figures are the same.
        return False
    return True


def keep_days(session: Session, now: datetime) -> None:
    """Keep the figures of every whole past UTC day of every version that are not kept yet.

    The worker calls this now and then, so that dashboards read kept days instead of computing
    them; days already kept and still right cost their check alone.
    """
    until = midnight(now.astimezone(UTC).date())
    versions = session.execute(
        select(Instance.process_version_id, func.min(Instance.created_at))
        .where(Instance.created_at < until)
        .group_by(Instance.process_version_id)
    )
    for version_id, earliest in versions.all():
        refresh_days(session, version_id, midnight(earliest.date()), until)
