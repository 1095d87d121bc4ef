"""Element and user-task figures of some instances, read from the audit log and task rows."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, InstanceEvent

from .sql import seconds_between
from .trace import FIRST_EVENTS

# (the called process it belongs to, or None for the instance's own; BPMN id; name)
Element = tuple[str | None, str | None, str | None]
# Instances are read this many at a time: their ids are sent as bound parameters.
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
    # Keyed by (the called process the task belongs to, or None; BPMN id).
    tasks: dict[tuple[str | None, str], TaskTime] = field(default_factory=dict)

    def add(self, other: "EventFigures") -> None:
        """Add another set of instances' figures to these."""
        for key, n in other.completions.items():
            self.completions[key] = self.completions.get(key, 0) + n
        for key, values in other.durations.items():
            self.durations.setdefault(key, []).extend(values)
        for key, task in other.tasks.items():
            mine = self.tasks.get(key)
            if mine is None:
                self.tasks[key] = TaskTime(task.name, task.count, task.waiting, task.working)
                continue
            mine.name = max(mine.name, task.name)
            mine.count += task.count
            mine.waiting += task.waiting
            mine.working += task.working

    def as_json(self) -> dict:
        """Return the figures as JSON-ready lists."""
        return {
            "elements": [
                [*element, n, self.durations.get(element, [])]
                for element, n in self.completions.items()
            ],
            "tasks": [
                [*key, t.name, t.count, t.waiting, t.working] for key, t in self.tasks.items()
            ],
        }

    @classmethod
    def from_json(cls, value: dict) -> "EventFigures":
        """Return the figures kept by `as_json`."""
        figures = cls()
        for called, bpmn_id, name, n, durations in value["elements"]:
            figures.completions[called, bpmn_id, name] = n
            if durations:
                figures.durations[called, bpmn_id, name] = durations
        for called, bpmn_id, name, count, waiting, working in value["tasks"]:
            figures.tasks[called, bpmn_id] = TaskTime(name, count, waiting, working)
        return figures


def compute(session: Session, ids: list[int]) -> EventFigures:
    """Return the event figures of some instances, from the source rows, CHUNK at a time."""
    figures = EventFigures()
    for n in range(0, len(ids), CHUNK):
        figures.add(compute_chunk(session, ids[n : n + CHUNK]))
    for values in figures.durations.values():
        # Sorted runs: percentiles over several sets sort their concatenation in one pass.
        values.sort()
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
    element = (InstanceEvent.called_process, InstanceEvent.bpmn_id, InstanceEvent.name)
    for called, bpmn_id, name, n in connection.execute(
        select(*element, func.count()).where(completed).group_by(*element)
    ):
        figures.completions[called, bpmn_id, name] = n
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
    for called, bpmn_id, name, seconds in connection.execute(
        select(*element, seconds_between(starts.c.started, InstanceEvent.at))
        .join(
            starts,
            and_(
                starts.c.instance_id == InstanceEvent.instance_id,
                starts.c.task_id == InstanceEvent.task_id,
            ),
        )
        .where(completed)
    ):
        figures.durations.setdefault((called, bpmn_id, name), []).append(clean(seconds))
    claimed = func.coalesce(HumanTask.claimed_at, HumanTask.completed_at)
    for called, bpmn_id, name, count, waiting, working in connection.execute(
        select(
            HumanTask.called_process,
            HumanTask.bpmn_id,
            func.max(HumanTask.name),
            func.count(),
            func.sum(seconds_between(HumanTask.created_at, claimed)),
            func.sum(seconds_between(claimed, HumanTask.completed_at)),
        )
        .where(HumanTask.instance_id.in_(scope), HumanTask.state == "completed")
        .group_by(HumanTask.called_process, HumanTask.bpmn_id)
    ):
        figures.tasks[called, bpmn_id] = TaskTime(name, count, float(waiting), float(working))
    return figures


def clean(seconds) -> float:
    """Return seconds rounded to the millisecond the database's arithmetic is good to."""
    return round(float(seconds or 0.0), 3)


def as_date(value) -> date:
    """Return a day as the database gives it (a date, or ISO text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
