"""The process dashboard for one version and a date range.

The instance figures (counts, lead times, term, outcomes, days) come from the scope's instance
rows (`scope`), the element and user task figures from the audit log and the task rows
(`events`); those of completed instances are kept per day once computed (`days`).

The scope is the instances of the version started in [since, until). Element durations run
from a task's first event (ready, waiting or failed) to its completion; tasks that run inside
one step (scripts, gateways, service calls that answer at once) take no time on the audit
log's clock. A user task waits from ready to its (last) claim and is worked from the claim to
its completion; one completed unclaimed waited all along. Throughput counts, per UTC day, the
instances of the scope that started and those that finished.
"""

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Instance, ProcessVersion
from webapp.runtime.errors import NotFound

from .days import scope_figures
from .events import Element, EventFigures, clean
from .scope import Figures

# Timestamps are subtracted as floats on SQLite: a millisecond absorbs their rounding.
TOLERANCE = 0.001
LEAD_PERCENTS = (50, 90, 99)


@dataclass(frozen=True)
class ElementStat:
    """How often an element completed and how long it took (seconds).

    `called_process` is the process a call activity started that the element belongs to, or
    None for the version's own.
    """

    called_process: str | None
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

    called_process: str | None
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

    @property
    def called(self) -> tuple[str, ...]:
        """Return the processes call activities started, whose elements are counted too."""
        return tuple(sorted({e.called_process for e in self.elements} - {None}))

    def heatmap(self, process: str | None = None) -> dict[str, dict]:
        """Return the figures of one diagram's elements as the viewer's `data-counts`.

        The diagram is the version's own, or with `process`, that of a called process.
        """
        return {
            e.bpmn_id: {
                "count": e.count,
                "label": f"{e.count} · mean {seconds_text(e.mean)} · p90 {seconds_text(e.p90)}",
            }
            for e in self.elements
            if e.called_process == process
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
    figures = scope_figures(session, version_id, since, until)
    fields = {text: tuple(json.loads(text)) for text in figures.summaries}
    outcomes: Counter = Counter()
    reasons: Counter = Counter()
    for text, n in figures.summaries.items():
        _, _, outcome, reason = fields[text]
        outcomes[outcome] += n
        if reason:
            reasons[reason] += n
    by_group: dict[tuple, list[float]] = {}
    for text, values in figures.leads.items():
        by_group.setdefault(fields[text][:2], []).extend(values)
    days = sorted({*figures.started_on, *figures.finished_on})
    return Dashboard(
        process_id=process_id,
        version=version,
        since=since,
        until=until,
        started=figures.summaries.total(),
        elements=element_stats(figures.events),
        lead_times=lead_times(by_group),
        service_term=term_kept(session, figures, fields, parse_term(service_term)),
        outcomes=dict(outcomes),
        refusal_reasons=dict(reasons),
        task_split=task_split(figures.events),
        throughput=tuple(
            DayCount(date.fromisoformat(d), figures.started_on[d], figures.finished_on[d])
            for d in days
        ),
    )


def element_stats(figures: EventFigures) -> tuple[ElementStat, ...]:
    """Return count, mean and nearest-rank p90 duration per element that completed in scope.

    Completions without a start event took no time: they are the zeros below the timed
    durations, so the p90 is found by its position from the top.
    """
    stats = []
    for element, n in sorted(figures.completions.items(), key=element_order):
        timed = sorted(figures.durations.get(element, []), reverse=True)
        # The p90 by nearest rank is the value at rank ceil(0.9 n) from the bottom.
        from_top = n - (90 * n + 99) // 100 + 1
        p90 = timed[from_top - 1] if from_top <= len(timed) else 0.0
        stats.append(ElementStat(*element, n, clean(sum(timed) / n), clean(p90)))
    return tuple(stats)


def element_order(item: tuple[Element, int]) -> tuple:
    """Return a sort key for an element: the version's own first, then by id and name."""
    return tuple((value is not None, value or "") for value in item[0])


def lead_times(leads: dict[tuple, list[float]]) -> tuple[LeadTime, ...]:
    """Return lead-time percentiles per channel and registration type, and for all together."""
    groups = sorted(leads.items(), key=lambda item: tuple(map(str, item[0])))
    everything = [seconds for _, values in groups for seconds in values]
    if everything:
        groups.append(((None, None), everything))
    return tuple(
        LeadTime(channel, kind, len(values), *percentiles(values, LEAD_PERCENTS))
        for (channel, kind), values in groups
    )


def percentiles(values: list[float], percents: tuple[int, ...]) -> list[float]:
    """Return the nearest-rank percentiles of values: the value at rank ceil(p n / 100)."""
    ordered = sorted(values)
    n = len(ordered)
    # Ranks are computed in integers so that the rank picked is exact.
    return [clean(ordered[(p * n + 99) // 100 - 1]) for p in percents]


def term_kept(
    session: Session, figures: Figures, fields: dict[str, tuple], term: timedelta
) -> ServiceTerm:
    """Return how many finished instances kept the term, and the longest breaches."""
    limit = term.total_seconds() + TOLERANCE
    finished = sum(map(len, figures.leads.values()))
    late = sum(seconds > limit for values in figures.leads.values() for seconds in values)
    listed = [entry for entry in figures.longest if entry[0] > limit]
    details = {
        id_: (key, created)
        for id_, key, created in session.execute(
            select(Instance.id, Instance.business_key, Instance.created_at).where(
                Instance.id.in_([id_ for _, id_, _ in listed])
            )
        )
    }
    breaches = []
    for seconds, id_, text in listed:
        key, created = details[id_]
        breaches.append(Breach(id_, key, fields[text][0], created, clean(seconds)))
    return ServiceTerm(term, finished, finished - late, tuple(breaches))


def task_split(figures: EventFigures) -> tuple[TaskSplit, ...]:
    """Return the waiting and working time of the completed user tasks, per task."""
    return tuple(
        TaskSplit(
            *key,
            task.name,
            task.count,
            clean(task.waiting / task.count),
            clean(task.working / task.count),
            clean(task.waiting),
            clean(task.working),
        )
        # The version's own tasks first, then those of the processes it called.
        for key, task in sorted(
            figures.tasks.items(), key=lambda item: (item[0][0] or "", item[0][1])
        )
    )
