"""The model of a process learned from its event log over a period: arrivals, data, task times.

Everything here is read from the rows the runtime writes: `instance` (arrival, end, version),
`instance_event` (the start data, each task's completion data, each registry call's duration,
incidents) and `human_task` (created, claimed, completed, by whom). Nothing is fitted:
distributions stay empirical.
"""

import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.analytics.sql import seconds_between
from webapp.centres import centre_problem
from webapp.db.models import HumanTask, Instance, InstanceEvent, ProcessVersion

from .services import aware, learn_services
from .staffing import HOURS_PER_WEEK, Claim, hour_of_week, learn_staffing, on_duty

# The start data of this many applications are kept, drawn at random (and one of each way
# through the draw missed: see `_learn_arrivals`): the routing
# cost of a simulation grows with the distinct data it routes, not with the arrivals.
MAX_SAMPLES = 400
# A field of task data with more distinct values than this (comments, signatures, numbers)
# does not tell completions apart: classes of completion data are told by the other fields.
MAX_CLASS_VALUES = 12


@dataclass
class TaskModel:
    """One user task's learned times (seconds) and completion data classes."""

    lane: str | None
    waiting: list[float] = field(default_factory=list)
    working: list[float] = field(default_factory=list)
    # Distinct completion data (told apart by low-cardinality fields) and how often each came.
    choices: list[dict] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    # The choice each completion made, beside its times: a decision and the time it took are
    # sampled together (a refusal may be quicker than an acceptance).
    made: list[int] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    # The service centre of each completion's application (None: online), beside its times.
    centres: list[str | None] = field(default_factory=list)
    # Applications the task came to (`cases`) and those where it was never answered: each of
    # its tasks cancelled while unclaimed (by a timer, mostly), none completed. Their waiting is
    # censored; dropping them would make every owner answer in time. Counted per application,
    # not per task: the owners of one flat tend to answer, or not, together.
    cases: int = 0
    unanswered: int = 0
    # Of the other applications, each task cancelled while unclaimed: seconds it had waited
    # and its application's centre. Its person had not answered by then (see `survival`).
    censored: list[float] = field(default_factory=list)
    censored_centres: list[str | None] = field(default_factory=list)


@dataclass
class Model:
    """What a period of one process's log teaches about its load and its people."""

    process_id: str
    start: datetime
    end: datetime
    version: int | None
    # (seconds after `start`, sample index) of each application that came, in order.
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    # Applications per hour, keyed by "channel|local hour of the week" (0 = Monday 00:00).
    rates: dict[str, float] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)
    tasks: dict[str, TaskModel] = field(default_factory=dict)
    # Per service task: calls, failures (incidents opened) and their rate, and the duration
    # (ms) of each successful call whose completion recorded one, sorted.
    services: dict[str, dict] = field(default_factory=dict)
    # Per service task that writes, the answers recorded in the log (its result variable).
    answers: dict[str, list[dict]] = field(default_factory=dict)
    # Per kept application (its index in `samples`), what each reading service task answered
    # it in the log: the registries as they were when it came.
    reads: dict[int, dict[str, dict]] = field(default_factory=dict)
    # The instance each kept application's data came from.
    kept_ids: list[int] = field(default_factory=list)
    outcomes: dict[str, float] = field(default_factory=dict)
    # Applications per hour made at each centre's counter, keyed by "centre|local hour of week".
    centre_rates: dict[str, float] = field(default_factory=dict)
    # Pool (a lane, or a lane at a centre: see `staffing.pool_of`) -> clerks per local hour of
    # the week (168 values): the most tasks held at once.
    staffing: dict[str, list[int]] = field(default_factory=dict)
    # Task (or lane) -> the local hours of the week it is picked up in (see `staffing`).
    duty: dict[str, list[bool]] = field(default_factory=dict)
    # The period as it happened: lead time seconds per ended instance and its channel.
    observed: list[tuple[str, float]] = field(default_factory=list)
    # Seconds after `start` when the log was last written to for the period's instances: an
    # instance still open then has no lead time in `observed`.
    cutoff: float = 0.0

    @property
    def weeks(self) -> float:
        """Return how many weeks the period spans."""
        return max((self.end - self.start).total_seconds() / (HOURS_PER_WEEK * 3600), 1 / 168)

    def as_json(self) -> dict:
        """Return the model as JSON-ready data."""
        return {
            "process_id": self.process_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "version": self.version,
            "applications": len(self.arrivals),
            "rates": self.rates,
            "centre_rates": self.centre_rates,
            "tasks": {
                bpmn_id: {
                    "lane": t.lane,
                    "count": len(t.working),
                    "waiting": quantiles(t.waiting),
                    "working": quantiles(t.working),
                    "working_by_centre": {
                        centre: quantiles(
                            [w for w, c in zip(t.working, t.centres, strict=True) if c == centre]
                        )
                        for centre in sorted({c for c in t.centres if c})
                    },
                    "choices": len(t.choices),
                    "cases": t.cases,
                    "unanswered": t.unanswered,
                    "censored": len(t.censored),
                }
                for bpmn_id, t in self.tasks.items()
            },
            "services": {
                bpmn_id: service
                | {
                    "delays": quantiles(service["delays"]),
                    "latency_ms": quantiles(service["latency_ms"]),
                }
                for bpmn_id, service in self.services.items()
            },
            "outcomes": self.outcomes,
            "staffing": self.staffing,
        }


def quantiles(values: list[float]) -> dict[str, float]:
    """Return the count, p50, p90 and p99 of some values."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p90": percentile(ordered, 90),
        "p99": percentile(ordered, 99),
    }


def percentile(ordered: list[float], p: float) -> float:
    """Return the nearest-rank percentile of sorted values (0 when there are none)."""
    if not ordered:
        return 0.0
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return float(ordered[rank - 1])


def centre_of(data: dict) -> str | None:
    """Return the service centre an application's start data names, None for none or another."""
    centre = data.get("service_centre_id")
    return centre if centre_problem(centre) is None else None


def learn(
    session: Session, process_id: str, start: datetime, end: datetime, seed: int = 0
) -> Model:
    """Learn the model of one process from the instances that started in [start, end)."""
    rows = session.execute(
        select(Instance.id, Instance.created_at, Instance.completed_at, ProcessVersion.version)
        .join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
        .where(
            Instance.process_id == process_id,
            Instance.created_at >= start,
            Instance.created_at < end,
        )
        .order_by(Instance.created_at, Instance.id)
    ).all()
    ids = [row.id for row in rows]
    versions = Counter(row.version for row in rows)
    model = Model(process_id, start, end, versions.most_common(1)[0][0] if versions else None)
    events = _events(session, ids)
    met = _tasks_met(session, ids)
    _learn_arrivals(model, rows, events, met, random.Random(seed))  # nosec B311
    _learn_tasks(model, session, ids, events)
    learn_services(model, events)
    return model


def _events(session: Session, ids: list[int]) -> list:
    """Return the events of some instances that carry what the model needs, in order."""
    kinds = ("instance_started", "task_completed", "incident_opened")
    found = []
    for n in range(0, len(ids), 1000):
        found += session.execute(
            select(
                InstanceEvent.instance_id,
                InstanceEvent.kind,
                InstanceEvent.bpmn_id,
                InstanceEvent.task_id,
                InstanceEvent.task_type,
                InstanceEvent.data,
                InstanceEvent.at,
            )
            .where(InstanceEvent.instance_id.in_(ids[n : n + 1000]), InstanceEvent.kind.in_(kinds))
            .order_by(InstanceEvent.id)
        ).all()
    return found


def _tasks_met(session: Session, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Return the user tasks (BPMN ids) each instance met in the log."""
    met: dict[int, set[str]] = defaultdict(set)
    for n in range(0, len(ids), 1000):
        for instance_id, bpmn_id in session.execute(
            select(HumanTask.instance_id, HumanTask.bpmn_id).where(
                HumanTask.instance_id.in_(ids[n : n + 1000])
            )
        ):
            met[instance_id].add(bpmn_id)
    return {instance_id: tuple(sorted(tasks)) for instance_id, tasks in met.items()}


def _learn_arrivals(model: Model, rows, events, met: dict, rng: random.Random) -> None:
    """Learn the arrivals, their rates, the data mix, the outcomes and the observed leads.

    The data kept are drawn at random, and one more of each way through (its channel, centre
    and the user tasks it met in the log) the draw missed: a way a few in a hundred took
    (a crowded address's review, overnight) is then played as often as it came, not as often
    as a draw of a few hundred happened to keep it.
    """
    started = {e.instance_id: e.data or {} for e in events if e.kind == "instance_started"}
    outcome: dict[int, str] = {}
    for e in events:
        if e.kind == "task_completed" and e.data and "outcome" in e.data:
            outcome[e.instance_id] = str(e.data["outcome"])
    way = [
        (str(started.get(r.id, {}).get("channel", "")), centre_of(started.get(r.id, {})))
        + met.get(r.id, ())
        for r in rows
    ]
    kept = set(rng.sample(range(len(rows)), min(MAX_SAMPLES, len(rows))))
    covered = {way[n] for n in kept}
    for n, kind in enumerate(way):
        if kind not in covered:
            covered.add(kind)
            kept.add(n)
    index: dict[int, int] = {}
    counts: Counter = Counter()
    at_centres: Counter = Counter()
    for n, row in enumerate(rows):
        data = started.get(row.id, {})
        channel = str(data.get("channel", ""))
        if n in kept:
            index[n] = len(model.samples)
            model.samples.append(data)
            model.kept_ids.append(row.id)
        created = aware(row.created_at)
        counts[f"{channel}|{hour_of_week(created)}"] += 1
        if centre_of(data):
            at_centres[f"{centre_of(data)}|{hour_of_week(created)}"] += 1
        model.arrivals.append(((created - model.start).total_seconds(), index.get(n, -1)))
        if row.completed_at is not None:
            lead = (aware(row.completed_at) - created).total_seconds()
            model.observed.append((channel, lead))
            ended = (aware(row.completed_at) - model.start).total_seconds()
            model.cutoff = max(model.cutoff, ended)
    # An application whose data was not kept routes like a kept one that went its way.
    by_way = defaultdict(list)
    for n in sorted(index):
        by_way[way[n]].append(index[n])
    arrivals = []
    for k, (offset, n) in enumerate(model.arrivals):
        arrivals.append((offset, n if n >= 0 else rng.choice(by_way[way[k]])))
    model.arrivals = arrivals
    model.rates = {key: count / model.weeks for key, count in sorted(counts.items())}
    model.centre_rates = {key: n / model.weeks for key, n in sorted(at_centres.items())}
    total = len(outcome)
    model.outcomes = {
        name: n / total for name, n in sorted(Counter(outcome.values()).items()) if total
    }


def _learn_tasks(model: Model, session: Session, ids: list[int], events) -> None:
    """Learn each user task's waiting and working times, completion data and the staffing.

    A task belongs to the service centre its application was made at (its start data's
    `service_centre_id`); tasks of applications made online belong to none.
    """
    centres = {
        e.instance_id: centre_of(e.data or {}) for e in events if e.kind == "instance_started"
    }
    claimed = HumanTask.claimed_at
    claims: list[tuple[TaskModel, Claim, int]] = []
    pooled: Counter = Counter()
    answered: set[tuple[str, int]] = set()
    for n in range(0, len(ids), 1000):
        for row in session.execute(
            select(
                HumanTask.id,
                HumanTask.instance_id,
                HumanTask.bpmn_id,
                HumanTask.lane,
                HumanTask.assignee,
                HumanTask.created_at,
                HumanTask.claimed_at,
                HumanTask.completed_at,
                seconds_between(HumanTask.created_at, claimed).label("waiting"),
                seconds_between(claimed, HumanTask.completed_at).label("working"),
                seconds_between(HumanTask.created_at, HumanTask.completed_at).label("total"),
            ).where(HumanTask.instance_id.in_(ids[n : n + 1000]), HumanTask.state == "completed")
        ):
            task = model.tasks.setdefault(row.bpmn_id, TaskModel(row.lane))
            # A task completed without a claim was waiting all along and worked at once.
            waiting = row.waiting if row.waiting is not None else row.total
            task.waiting.append(round(max(float(waiting or 0.0), 0.0), 3))
            task.working.append(round(max(float(row.working or 0.0), 0.0), 3))
            task.task_ids.append(row.id)
            centre = centres.get(row.instance_id)
            task.centres.append(centre)
            answered.add((row.bpmn_id, row.instance_id))
            lane = row.lane or ""
            # A task made for one named person (an owner's consent) waits on that person; the
            # lanes whose tasks go to a role's queue are worked by a pool of staff.
            pooled[lane] += 1 if row.assignee is None else -1
            completed = aware(row.completed_at)
            begun = aware(row.claimed_at) if row.claimed_at else completed
            claim = Claim(lane, row.bpmn_id, centre, aware(row.created_at), begun, completed)
            claims.append((task, claim, len(task.waiting) - 1))
    unanswered: set[tuple[str, int]] = set()
    cut: list[tuple[str, int, float]] = []
    for n in range(0, len(ids), 1000):
        for bpmn_id, instance_id, lane, waited in session.execute(
            select(
                HumanTask.bpmn_id,
                HumanTask.instance_id,
                HumanTask.lane,
                seconds_between(HumanTask.created_at, HumanTask.completed_at),
            ).where(
                HumanTask.instance_id.in_(ids[n : n + 1000]),
                HumanTask.state == "cancelled",
                HumanTask.claimed_at.is_(None),
            )
        ):
            model.tasks.setdefault(bpmn_id, TaskModel(lane))
            unanswered.add((bpmn_id, instance_id))
            cut.append((bpmn_id, instance_id, max(float(waited or 0.0), 0.0)))
    for bpmn_id, _instance_id in answered | unanswered:
        model.tasks[bpmn_id].cases += 1
    for bpmn_id, _instance_id in unanswered - answered:
        model.tasks[bpmn_id].unanswered += 1
    # Where a task of the application was answered, one cancelled beside it is a censored
    # answer time: a slow owner the window cut off, or one a co-owner's refusal did.
    for bpmn_id, instance_id, waited in cut:
        if (bpmn_id, instance_id) in answered:
            model.tasks[bpmn_id].censored.append(round(waited, 3))
            model.tasks[bpmn_id].censored_centres.append(centres.get(instance_id))
    completions = {e.task_id: e.data or {} for e in events if e.kind == "task_completed"}
    for task in model.tasks.values():
        values = [completions.get(task_id, {}) for task_id in task.task_ids]
        task.choices, task.weights, task.made = data_classes(values)
        task.task_ids = []
    staffed = [(t, c, n) for t, c, n in claims if pooled[c.lane] > 0]
    model.staffing, model.duty = learn_staffing([c for _t, c, _n in staffed])
    # A pooled task waits for a clerk only while its clerks are at work: the night before a
    # counter opens is not part of its waiting.
    for task, claim, n in staffed:
        task.waiting[n] = round(on_duty(claim.created, claim.claimed, model.duty[claim.bpmn_id]), 3)


def data_classes(values: list[dict]) -> tuple[list[dict], list[int], list[int]]:
    """Return the distinct classes of some completion data, how often each came, and the
    class of each value.

    Classes are told apart by the fields with few distinct values (a decision, a reason
    code); each class keeps its first full data as its representative.
    """
    distinct: dict[str, set[str]] = defaultdict(set)
    for value in values:
        for key, item in value.items():
            distinct[key].add(json.dumps(item, sort_keys=True, default=str))
    telling = sorted(k for k, seen in distinct.items() if len(seen) <= MAX_CLASS_VALUES)
    first: dict[str, dict] = {}
    counts: Counter = Counter()
    told = []
    for value in values:
        key = json.dumps([value.get(k) for k in telling], sort_keys=True, default=str)
        first.setdefault(key, value)
        counts[key] += 1
        told.append(key)
    keys = sorted(first)
    position = {k: n for n, k in enumerate(keys)}
    return [first[k] for k in keys], [counts[k] for k in keys], [position[k] for k in told]
