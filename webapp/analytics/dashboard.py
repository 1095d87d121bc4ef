"""The process dashboard for one version and a date range, computed by SQL aggregates.

The scope is the instances of the version started in [since, until). Element durations run
from a task's first event (ready, waiting or failed) to its completion; tasks that run inside
one step (scripts, gateways, service calls that answer at once) take no time on the audit
log's clock. A user task waits from ready to its (last) claim and is worked from the claim to
its completion; one completed unclaimed waited all along. Throughput counts, per UTC day, the
instances of the scope that started and those that finished.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Instance, InstanceEvent, ProcessVersion
from webapp.runtime.errors import NotFound

from .instances import summary_field
from .sql import distributions, seconds_between, utc_day
from .trace import FIRST_EVENTS

# Timestamps are subtracted as floats on SQLite: a millisecond absorbs their rounding.
TOLERANCE = 0.001
BREACHES_LISTED = 100
LEAD_PERCENTS = (50, 90, 99)


@dataclass(frozen=True)
class ElementStat:
    """How often an element completed and how long it took (seconds)."""

    bpmn_id: str
    name: str | None
    count: int
    mean: float
    p90: float


@dataclass(frozen=True)
class LeadTime:
    """Lead time percentiles (seconds) of the finished instances of one channel and type."""

    channel: str | None
    registration_type: str | None
    count: int
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class Breach:
    """A finished instance that took longer than the service term."""

    instance_id: int
    business_key: str | None
    channel: str | None
    created_at: datetime
    lead_time: float


@dataclass(frozen=True)
class ServiceTerm:
    """The share of finished instances within the term, and the breaches (longest first)."""

    term: timedelta
    finished: int
    within: int
    breaches: tuple[Breach, ...]

    @property
    def share(self) -> float | None:
        """Return the share finished within the term, or None when nothing finished."""
        return self.within / self.finished if self.finished else None

    @property
    def breach_count(self) -> int:
        """Return how many finished instances breached the term (more than are listed)."""
        return self.finished - self.within


@dataclass(frozen=True)
class TaskSplit:
    """Mean and total seconds a completed user task waited unclaimed and was worked."""

    bpmn_id: str
    name: str | None
    count: int
    waiting_mean: float
    working_mean: float
    waiting_total: float
    working_total: float


@dataclass(frozen=True)
class DayCount:
    """Instances started and finished on one UTC day."""

    day: date
    started: int
    finished: int


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the process dashboard."""

    process_id: str
    version: int
    since: datetime
    until: datetime
    started: int
    elements: tuple[ElementStat, ...]
    lead_times: tuple[LeadTime, ...]
    service_term: ServiceTerm
    outcomes: dict[str | None, int]
    refusal_reasons: dict[str, int]
    task_split: tuple[TaskSplit, ...]
    throughput: tuple[DayCount, ...]

    def heatmap(self) -> dict[str, dict]:
        """Return the element figures as the diagram viewer's `data-counts` attribute."""
        return {
            e.bpmn_id: {
                "count": e.count,
                "label": f"{e.count} · mean {seconds_text(e.mean)} · p90 {seconds_text(e.p90)}",
            }
            for e in self.elements
        }


def seconds_text(seconds: float) -> str:
    """Return a duration in the largest unit that reads well: `45s`, `12m`, `3.5h`, `2.0d`."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def parse_term(value: str | timedelta) -> timedelta:
    """Return the service term setting (an ISO 8601 duration such as `PT15M`) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    parsed = TimerEventDefinition.parse_iso_duration(value)
    start = datetime(2000, 1, 1, tzinfo=UTC)
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)


def process_dashboard(
    session: Session,
    process_id: str,
    version: int,
    since: datetime,
    until: datetime,
    service_term: str | timedelta,
) -> Dashboard:
    """Compute the dashboard of a process version for instances started in [since, until)."""
    version_id = session.scalar(
        select(ProcessVersion.id).where(
            ProcessVersion.process_id == process_id, ProcessVersion.version == version
        )
    )
    if version_id is None:
        raise NotFound(f"no version {version} of process {process_id!r}")
    in_scope = and_(
        Instance.process_version_id == version_id,
        Instance.created_at >= since,
        Instance.created_at < until,
    )
    scope = select(Instance.id).where(in_scope)
    outcomes, refusal_reasons = outcome_counts(session, in_scope)
    return Dashboard(
        process_id=process_id,
        version=version,
        since=since,
        until=until,
        started=session.scalar(select(func.count()).where(in_scope)),
        elements=element_stats(session, scope),
        lead_times=lead_times(session, in_scope),
        service_term=term_figures(session, in_scope, parse_term(service_term)),
        outcomes=outcomes,
        refusal_reasons=refusal_reasons,
        task_split=task_split(session, scope),
        throughput=throughput(session, in_scope),
    )


def element_stats(session: Session, scope) -> tuple[ElementStat, ...]:
    """Return count, mean and p90 duration per element that completed in scope.

    Only completions with a start event (a user task, a wait, a failure) take time; the rest,
    most of the log, are counted and never ranked. The timed durations are streamed from the
    longest down, so the p90 is found by its position from the top, whatever the zeros below.
    """
    completed = and_(InstanceEvent.instance_id.in_(scope), InstanceEvent.kind == "task_completed")
    totals = session.execute(
        select(InstanceEvent.bpmn_id, InstanceEvent.name, func.count())
        .where(completed)
        .group_by(InstanceEvent.bpmn_id, InstanceEvent.name)
        .order_by(InstanceEvent.bpmn_id, InstanceEvent.name)
    ).all()
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
    value = seconds_between(starts.c.started, InstanceEvent.at)
    timed = session.execute(
        select(InstanceEvent.bpmn_id, InstanceEvent.name, value)
        .join(
            starts,
            and_(
                starts.c.instance_id == InstanceEvent.instance_id,
                starts.c.task_id == InstanceEvent.task_id,
            ),
        )
        .where(completed)
        .order_by(InstanceEvent.bpmn_id, InstanceEvent.name, value.desc())
        .execution_options(yield_per=1000)
    )
    counts = {(bpmn_id, name): n for bpmn_id, name, n in totals}
    # The p90 by nearest rank is the value at rank ceil(0.9 n) from the bottom.
    from_top = {key: n - (90 * n + 99) // 100 + 1 for key, n in counts.items()}
    sums: dict[tuple, float] = {}
    p90: dict[tuple, float] = {}
    key, position = None, 0
    for bpmn_id, name, seconds in timed:
        if (bpmn_id, name) != key:
            key, position = (bpmn_id, name), 0
        position += 1
        sums[key] = sums.get(key, 0.0) + seconds
        if position == from_top[key]:
            p90[key] = seconds
    return tuple(
        ElementStat(
            bpmn_id,
            name,
            n,
            clean(sums.get((bpmn_id, name), 0.0) / n),
            clean(p90.get((bpmn_id, name))),
        )
        for (bpmn_id, name), n in counts.items()
    )


def lead_times(session: Session, in_scope) -> tuple[LeadTime, ...]:
    """Return lead-time percentiles per channel and registration type, and for all together."""
    channel, kind = summary_field("channel"), summary_field("registration_type")
    finished = and_(in_scope, Instance.completed_at.is_not(None))
    value = seconds_between(Instance.created_at, Instance.completed_at).label("value")
    grouped = distributions(
        session,
        select(channel.label("channel"), kind.label("kind"), value).where(finished),
        ["channel", "kind"],
        LEAD_PERCENTS,
    )
    overall = distributions(
        session,
        select(literal("all").label("scope"), value).where(finished),
        ["scope"],
        LEAD_PERCENTS,
    )
    ordered = sorted(grouped.items(), key=lambda item: tuple(map(str, item[0])))
    return tuple(
        LeadTime(channel, kind, d.count, *(clean(d.percentiles[p]) for p in LEAD_PERCENTS))
        for (channel, kind), d in [*ordered, *(((None, None), d) for d in overall.values())]
    )


def term_figures(session: Session, in_scope, term: timedelta) -> ServiceTerm:
    """Return how many finished instances kept the term, and the longest breaches."""
    value = seconds_between(Instance.created_at, Instance.completed_at)
    limit = term.total_seconds() + TOLERANCE
    finished, within = session.execute(
        select(func.count(), func.count().filter(value <= limit)).where(
            in_scope, Instance.completed_at.is_not(None)
        )
    ).one()
    breaches = tuple(
        Breach(row.id, row.business_key, row.channel, row.created_at, clean(row.value))
        for row in session.execute(
            select(
                Instance.id,
                Instance.business_key,
                summary_field("channel").label("channel"),
                Instance.created_at,
                value.label("value"),
            )
            .where(in_scope, Instance.completed_at.is_not(None), value > limit)
            .order_by(value.desc(), Instance.id)
            .limit(BREACHES_LISTED)
        )
    )
    return ServiceTerm(term, finished, within, breaches)


def outcome_counts(session: Session, in_scope) -> tuple[dict[str | None, int], dict[str, int]]:
    """Return how many instances in scope have each outcome, and each refusal reason given."""
    # One pass over the summaries: reading them is what costs, not the grouping.
    outcome, reason = summary_field("outcome"), summary_field("refusal_reason")
    outcomes: dict[str | None, int] = {}
    reasons: dict[str, int] = {}
    rows = session.execute(
        select(outcome, reason, func.count()).where(in_scope).group_by(outcome, reason)
    )
    for outcome_, reason_, n in rows:
        outcomes[outcome_] = outcomes.get(outcome_, 0) + n
        if reason_:
            reasons[reason_] = reasons.get(reason_, 0) + n
    return outcomes, reasons


def task_split(session: Session, scope) -> tuple[TaskSplit, ...]:
    """Return the waiting and working time of the completed user tasks, per task."""
    claimed = func.coalesce(HumanTask.claimed_at, HumanTask.completed_at)
    waiting = seconds_between(HumanTask.created_at, claimed)
    working = seconds_between(claimed, HumanTask.completed_at)
    rows = session.execute(
        select(
            HumanTask.bpmn_id,
            func.max(HumanTask.name),
            func.count(),
            func.avg(waiting),
            func.avg(working),
            func.sum(waiting),
            func.sum(working),
        )
        .where(HumanTask.instance_id.in_(scope), HumanTask.state == "completed")
        .group_by(HumanTask.bpmn_id)
        .order_by(HumanTask.bpmn_id)
    )
    return tuple(
        TaskSplit(bpmn_id, name, count, *(clean(v) for v in values))
        for bpmn_id, name, count, *values in rows
    )


def throughput(session: Session, in_scope) -> tuple[DayCount, ...]:
    """Return per UTC day the instances in scope that started, and those that finished."""
    counts = {}
    for column in (Instance.created_at, Instance.completed_at):
        day = utc_day(column)
        counts[column.key] = {
            as_date(d): n
            for d, n in session.execute(
                select(day, func.count()).where(in_scope, column.is_not(None)).group_by(day)
            )
        }
    started, finished = counts["created_at"], counts["completed_at"]
    return tuple(
        DayCount(d, started.get(d, 0), finished.get(d, 0)) for d in sorted({*started, *finished})
    )


def as_date(value) -> date:
    """Return a day as the database gives it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def clean(seconds) -> float:
    """Return seconds rounded to the millisecond the database's arithmetic is good to."""
    return round(float(seconds or 0.0), 3)
