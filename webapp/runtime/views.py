"""Plain, frozen views of instances, tasks and events that the runtime hands to its callers."""

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Incident, InstanceEvent


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class DeployedProcess:
    process_id: str
    version: int
    created: bool
    deployment_id: int
    status: str

    def to_dict(self) -> dict:
        """Return the contract's `{process_id, version}` (whether it is new, and in effect)."""
        return asdict(self)


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: int
    process_id: str
    business_key: str | None
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    assignee: str | None
    claimed_by: str | None
    form: str | None
    state: str
    due_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: HumanTask) -> "TaskView":
        """Build the view of a task-list row."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        """Return the contract's task, with the task-list fields after it."""
        return {**asdict(self), "due_at": _iso(self.due_at), "created_at": _iso(self.created_at)}


@dataclass(frozen=True)
class EventView:
    id: int
    at: datetime
    kind: str
    task_id: str | None
    bpmn_id: str | None
    name: str | None
    task_type: str | None
    actor: str | None
    data: dict | None

    @classmethod
    def of(cls, row: InstanceEvent) -> "EventView":
        """Build the view of an audit event."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        """Return the event as JSON-able data."""
        return {**asdict(self), "at": _iso(self.at)}


@dataclass(frozen=True)
class IncidentView:
    id: int
    task_id: str
    bpmn_id: str
    message: str
    attempts: int
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: Incident) -> "IncidentView":
        """Build the view of an incident."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        """Return the incident as JSON-able data."""
        return {**asdict(self), "created_at": _iso(self.created_at)}


@dataclass(frozen=True)
class InstanceView:
    id: int
    process_id: str
    version: int
    status: str
    business_key: str | None
    data: dict
    ready_tasks: tuple[TaskView, ...]
    events: tuple[EventView, ...] = field(default=())
    incidents: tuple[IncidentView, ...] = field(default=())

    def to_dict(self) -> dict:
        """Return the contract's instance document."""
        return {
            "id": self.id,
            "process_id": self.process_id,
            "version": self.version,
            "status": self.status,
            "business_key": self.business_key,
            "data": self.data,
            "ready_tasks": [t.to_dict() for t in self.ready_tasks],
            "events": [e.to_dict() for e in self.events],
            "incidents": [i.to_dict() for i in self.incidents],
        }


def instance_view(
    session: Session, instance, info, data: dict, tasks: tuple[TaskView, ...], full: bool = False
) -> InstanceView:
    """Build the view of an instance with its open tasks (events and incidents when `full`)."""
    events, incidents = (), ()
    if full:
        events = tuple(
            EventView.of(e)
            for e in session.scalars(
                select(InstanceEvent)
                .where(InstanceEvent.instance_id == instance.id)
                .order_by(InstanceEvent.id)
            )
        )
        incidents = tuple(
            IncidentView.of(i)
            for i in session.scalars(
                select(Incident).where(Incident.instance_id == instance.id).order_by(Incident.id)
            )
        )
    return InstanceView(
        id=instance.id,
        process_id=info.process_id,
        version=info.version,
        status=instance.status,
        business_key=instance.business_key,
        data=data,
        ready_tasks=tasks,
        events=events,
        incidents=incidents,
    )
