"""The process dashboard of a process (all its versions, or one) over a date range.

The instance figures (counts, lead times, term, outcomes, days) come from the scope's instance
rows (`scope`), the element and user task figures from the audit log and the task rows
(`events`); those of completed instances are kept per day once computed (`days`).

The scope is the instances of the versions started in [since, until): every version by
default, counted together by element id (an element keeps its id from version to version
when the process owner edits around it), or the one version asked for. Element durations run
from a task's first event (ready, waiting or failed) to its completion; tasks that run inside
one step (scripts, gateways, service calls that answer at once) take no time on the audit
log's clock. A user task waits from ready to its (last) claim and is worked from the claim to
its completion; one completed unclaimed waited all along. Throughput counts, per UTC day, the
instances of the scope that started and those that finished.
"""

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Instance, ProcessVersion
from webapp.runtime.errors import NotFound

from .days import scope_figures
from .elements import ElementInfo, version_elements
from .events import EventFigures, clean
from .scope import Figures

# Timestamps are subtracted as floats on SQLite: a millisecond absorbs their rounding.
TOLERANCE = 0.001
LEAD_PERCENTS = (50, 90, 99)
# The heatmap's shades: an element's share of the most time any element took, in steps.
HEAT_LEVELS = 4


@dataclass(frozen=True)
class ElementStat:
    """How often an element completed and how long it took (seconds).

    `called_process` is the process a call activity started that the element belongs to, or
    None for the version's own. `name` is the diagram's (the latest version's that has the
    element); `total` the seconds all its completions took together, the time spent there;
    `element_type` its BPMN type (`userTask`), or None when no diagram has it.
    """

    called_process: str | None
    bpmn_id: str
    name: str | None
    count: int
    mean: float
    p90: float
    total: float
    element_type: str | None = None

    @property
    def minor(self) -> bool:
        """Tell whether the element is a gateway or an event (folded away by default)."""
        return ElementInfo(self.element_type or "", None).minor

    @property
    def label(self) -> str:
        """Return what the element is called: its name, else its type in words, else its id."""
        if self.name:
            return self.name
        if self.element_type:
            return ElementInfo(self.element_type, None).type_label
        return self.bpmn_id


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
    version: int | None
    versions: tuple[int, ...]
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
    def major_elements(self) -> tuple[ElementStat, ...]:
        """Return the elements that are neither gateways nor events."""
        return tuple(e for e in self.elements if not e.minor)

    @property
    def called(self) -> tuple[str, ...]:
        """Return the processes call activities started, whose elements are counted too."""
        return tuple(sorted({e.called_process for e in self.elements} - {None}))

    def heatmap(self, process: str | None = None) -> dict[str, dict]:
        """Return the figures of one diagram's elements as the viewer's `data-counts`.

        The diagram is the version's own, or with `process`, that of a called process.
        """
        shown = [e for e in self.elements if e.called_process == process]
        most = max((e.total for e in shown), default=0.0)
        return {
            e.bpmn_id: {
                "count": e.count,
                "label": f"{e.label}: {e.count} · mean {seconds_text(e.mean)}"
                f" · p90 {seconds_text(e.p90)}",
                "heat": heat(e.total, most),
            }
            for e in shown
        }


def heat(seconds: float, most: float) -> int:
    """Return the heat level (0 to HEAT_LEVELS) of an element's time spent against the most."""
    if seconds <= 0 or most <= 0:
        return 0
    return max(1, math.ceil(HEAT_LEVELS * seconds / most))


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
    version: int | None,
    since: datetime,
    until: datetime,
    service_term: str | timedelta,
) -> Dashboard:
    """Compute the dashboard of a process for instances started in [since, until).

    With `version` None, every version's instances are counted together.
    """
    query = select(ProcessVersion.id, ProcessVersion.version).where(
        ProcessVersion.process_id == process_id
    )
    if version is not None:
        query = query.where(ProcessVersion.version == version)
    rows = session.execute(query.order_by(ProcessVersion.version)).all()
    if not rows:
        raise NotFound(
            f"no process {process_id!r}"
            if version is None
            else f"no version {version} of process {process_id!r}"
        )
    figures = Figures()
    for version_id, _ in rows:
        figures.add(scope_figures(session, version_id, since, until))
    diagrams = version_elements(session, [version_id for version_id, _ in rows])
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
        versions=tuple(number for _, number in rows),
        since=since,
        until=until,
        started=figures.summaries.total(),
        elements=element_stats(figures.events, diagrams),
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


def element_stats(
    figures: EventFigures, diagrams: dict[str, ElementInfo]
) -> tuple[ElementStat, ...]:
    """Return count, mean and nearest-rank p90 duration per element that completed in scope.

    Elements are counted by (called process, id) whatever name each version gave them, and
    sorted by the time spent there, most first. Completions without a start event took no
    time: they are the zeros below the timed durations, so the p90 is found by its position
    from the top.
    """
    counts: dict[tuple, int] = {}
    durations: dict[tuple, list[float]] = {}
    names: dict[tuple, str | None] = {}
    for (called, bpmn_id, name), n in figures.completions.items():
        key = (called, bpmn_id)
        counts[key] = counts.get(key, 0) + n
        durations.setdefault(key, []).extend(figures.durations.get((called, bpmn_id, name), []))
        names[key] = names.get(key) or name
    stats = []
    for key, n in counts.items():
        timed = sorted(durations[key], reverse=True)
        # The p90 by nearest rank is the value at rank ceil(0.9 n) from the bottom.
        from_top = n - (90 * n + 99) // 100 + 1
        p90 = timed[from_top - 1] if from_top <= len(timed) else 0.0
        # Diagrams name elements by id across files: a called process's ids are its own.
        info = diagrams.get(key[1])
        name = (info.name if info else None) or names[key]
        kind = info.element_type if info else None
        total = clean(sum(timed))
        stats.append(ElementStat(*key, name, n, clean(total / n), clean(p90), total, kind))
    # Most time first; then the version's own before called processes, then by id.
    stats.sort(key=lambda s: (-s.total, -s.count, s.called_process or "", s.bpmn_id or ""))
    return tuple(stats)


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
