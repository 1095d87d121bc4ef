"""The trace of one instance: its timeline, user-task times, data after each step, markers."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.base import utcnow
from webapp.db.models import DeploymentFile, Incident, Instance, InstanceEvent, ProcessVersion
from webapp.privacy import NOTHING, View
from webapp.runtime.calls import without_duration
from webapp.runtime.errors import NotFound
from webapp.runtime.xmlsafe import parse_xml

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
# The state an element's task is in after an event of each kind.
TASK_STATES = {
    "task_ready": "active",
    "task_waiting": "active",
    "claimed": "active",
    "unclaimed": "active",
    "assigned": "active",
    "retry": "active",
    "task_completed": "completed",
    "task_cancelled": "cancelled",
    "task_error": "failed",
    "incident_opened": "failed",
}
# When one element ran several times, what it shows is what matters most to the reader.
PRECEDENCE = ("failed", "active", "completed", "cancelled")
FIRST_EVENTS = ("task_ready", "task_waiting", "task_error")
ENDS = ("task_completed", "task_cancelled")


@dataclass(frozen=True)
class Change:
    """One value a step set: its field, the value before (None if it had none) and after."""

    field: str
    before: object
    after: object
    new: bool


@dataclass(frozen=True)
class TraceEvent:
    """One line of the timeline; `changes` are the values the step changed, as shown."""

    id: int
    at: datetime
    kind: str
    task_id: str | None
    bpmn_id: str | None
    called_process: str | None
    name: str | None
    task_type: str | None
    actor: str | None
    since_start: timedelta
    since_previous: timedelta
    duration: timedelta | None
    data: dict | None
    data_after: dict | None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class UserTaskTime:
    """How long one user task waited unclaimed and how long it was worked."""

    task_id: str
    bpmn_id: str
    name: str | None
    ready_at: datetime
    ended_at: datetime | None
    state: str
    waiting: timedelta
    working: timedelta
    completed_by: str | None


@dataclass(frozen=True)
class Markers:
    """Element ids per marker of the diagram viewer, and how often each element ran."""

    completed: tuple[str, ...]
    active: tuple[str, ...]
    failed: tuple[str, ...]
    cancelled: tuple[str, ...]
    counts: dict[str, int]
    flows: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        """Return the markers as the viewer's `data-markers` attribute wants them.

        The sequence flows taken are marked completed with the elements, drawing the path.
        """
        marked = {kind: list(getattr(self, kind)) for kind in PRECEDENCE}
        marked["completed"] += self.flows
        return marked


@dataclass(frozen=True)
class IncidentLine:
    """An incident of the instance, open or resolved."""

    id: int
    bpmn_id: str
    message: str
    attempts: int
    status: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class Trace:
    """Everything the instance page shows.

    The markers and the path are those of one diagram: the instance's own process, or with
    `shown_process` set, a process one of its call activities started (listed in `called`).
    """

    id: int
    process_id: str
    version: int
    shown_process: str | None
    called: tuple[str, ...]
    bpmn_file: str
    deployment_id: int
    business_key: str | None
    status: str
    summary: dict
    created_at: datetime
    completed_at: datetime | None
    lead_time: timedelta | None
    events: tuple[TraceEvent, ...]
    user_tasks: tuple[UserTaskTime, ...]
    markers: Markers
    path: tuple[str, ...]
    incidents: tuple[IncidentLine, ...]


class TaskClock:
    """Splits one user task's life into time unclaimed and time held, from its events."""

    def __init__(self, event) -> None:
        self.event = event
        self.mark = event.at
        self.held = False
        self.waiting = timedelta()
        self.working = timedelta()
        self.ended: datetime | None = None
        self.state = "ready"
        self.completed_by: str | None = None

    def advance(self, at: datetime) -> None:
        """Add the time since the last change to the bucket the task was in."""
        if self.held:
            self.working += at - self.mark
        else:
            self.waiting += at - self.mark
        self.mark = at

    def apply(self, event) -> None:
        """Apply a claim, release, reassignment or end of the task."""
        self.advance(event.at)
        if event.kind == "claimed":
            self.held = True
        elif event.kind == "unclaimed":
            self.held = False
        elif event.kind == "assigned":
            self.held = bool((event.data or {}).get("user"))
        elif event.kind in ENDS:
            self.ended = event.at
            self.state = "completed" if event.kind == "task_completed" else "cancelled"
            self.completed_by = event.actor if event.kind == "task_completed" else None

    def result(self, now: datetime) -> UserTaskTime:
        """Return the task's times; an open task counts up to `now`."""
        if self.ended is None:
            self.advance(max(now, self.mark))
        return UserTaskTime(
            task_id=self.event.task_id,
            bpmn_id=self.event.bpmn_id,
            name=self.event.name,
            ready_at=self.event.at,
            ended_at=self.ended,
            state=self.state,
            waiting=self.waiting,
            working=self.working,
            completed_by=self.completed_by,
        )


def instance_trace(
    session: Session,
    instance_id: int,
    view: View = NOTHING,
    now: datetime | None = None,
    process: str | None = None,
) -> Trace:
    """Return the trace of an instance from its audit log, its personal data as `view` shows it.

    The markers are those of `process`, a process a call activity started, or of the
    instance's own process when it is None.
    """
    now = now or utcnow()
    header = session.execute(
        select(
            Instance, ProcessVersion.version, ProcessVersion.bpmn_file, ProcessVersion.deployment_id
        )
        .join(ProcessVersion, ProcessVersion.id == Instance.process_version_id)
        .where(Instance.id == instance_id)
    ).first()
    if header is None:
        raise NotFound(f"no instance {instance_id}")
    instance, version, bpmn_file, deployment_id = header
    rows = session.execute(
        select(
            InstanceEvent.id,
            InstanceEvent.at,
            InstanceEvent.kind,
            InstanceEvent.task_id,
            InstanceEvent.bpmn_id,
            InstanceEvent.called_process,
            InstanceEvent.name,
            InstanceEvent.task_type,
            InstanceEvent.actor,
            InstanceEvent.data,
        )
        .where(InstanceEvent.instance_id == instance_id)
        .order_by(InstanceEvent.id)
    ).all()
    events, clocks, first_seen, states, counts, path = [], {}, {}, {}, {}, []
    # A task's diagram is the one its first event names (claims do not name it again).
    diagram_of: dict[str, str | None] = {}
    called: dict[str, None] = {}
    data: dict = {}
    previous = instance.created_at
    for row in rows:
        duration, data_after = None, None
        called_process = row.called_process
        if row.task_id:
            called_process = diagram_of.setdefault(row.task_id, called_process)
        if called_process is not None:
            called[called_process] = None
        in_diagram = called_process == process
        if row.task_id:
            first_seen.setdefault(row.task_id, row.at)
            if row.kind in TASK_STATES and row.bpmn_id and in_diagram:
                states[row.task_id] = (row.bpmn_id, TASK_STATES[row.kind])
            if row.kind in ENDS:
                duration = row.at - first_seen[row.task_id]
            if row.kind == "task_ready":
                clocks[row.task_id] = TaskClock(row)
            elif row.task_id in clocks:
                clocks[row.task_id].apply(row)
        if row.kind == "task_completed" and row.bpmn_id and in_diagram:
            counts[row.bpmn_id] = counts.get(row.bpmn_id, 0) + 1
            if not path or path[-1] != row.bpmn_id:
                path.append(row.bpmn_id)
        changes: tuple[Change, ...] = ()
        # A registry call's duration rides in its completion's data: it is not a field.
        delta = without_duration(row.data)
        changed = delta if row.kind in ("instance_started", "task_completed") else None
        if row.kind == "variable_changed":
            changed = (row.data or {}).get("after")  # an administrator's repair
        if changed:
            before = view(dict(data))
            data.update(changed)
            data_after = view(dict(data))
            changes = changed_values(before, data_after, delta)
        events.append(
            TraceEvent(
                id=row.id,
                at=row.at,
                kind=row.kind,
                task_id=row.task_id,
                bpmn_id=row.bpmn_id,
                called_process=called_process,
                name=row.name,
                task_type=row.task_type,
                actor=view.text(row.actor) if row.actor else None,
                since_start=row.at - instance.created_at,
                since_previous=row.at - previous,
                duration=duration,
                data=view(row.data) if row.data else None,
                data_after=data_after,
                changes=changes,
            )
        )
        previous = row.at
    incidents = tuple(
        IncidentLine(
            i.id, i.bpmn_id, view.text(i.message), i.attempts, i.status, i.created_at, i.resolved_at
        )
        for i in session.scalars(
            select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
        )
    )
    if process is not None:
        if process not in called:
            raise NotFound(f"instance {instance_id} called no process {process!r}")
        bpmn_file = process_file(session, deployment_id, process)
    marked = markers(states.values(), counts)
    diagram = session.scalar(
        select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment_id, DeploymentFile.name == bpmn_file
        )
    )
    if diagram is not None:
        marked = replace(marked, flows=taken_flows(diagram, marked))
    return Trace(
        id=instance.id,
        process_id=instance.process_id,
        version=version,
        shown_process=process,
        called=tuple(called),
        bpmn_file=bpmn_file,
        deployment_id=deployment_id,
        business_key=instance.business_key,
        status=instance.status,
        summary=view(dict(instance.summary or {})),
        created_at=instance.created_at,
        completed_at=instance.completed_at,
        lead_time=(instance.completed_at - instance.created_at) if instance.completed_at else None,
        events=tuple(events),
        user_tasks=tuple(
            replace(task, completed_by=task.completed_by and view.text(task.completed_by))
            for task in (clock.result(now) for clock in clocks.values())
        ),
        markers=marked,
        path=tuple(path),
        incidents=incidents,
    )


def changed_values(before: dict, after: dict, delta: dict) -> tuple[Change, ...]:
    """Return the fields of a step's delta whose shown value differs from the one before."""
    return tuple(
        Change(key, before.get(key), after.get(key), key not in before)
        for key in delta
        if key not in before or before[key] != after.get(key)
    )


def process_file(session: Session, deployment_id: int, process: str) -> str:
    """Return the name of the deployment's BPMN file that defines a process."""
    files = session.execute(
        select(DeploymentFile.name, DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment_id, DeploymentFile.name.like("%.bpmn")
        )
    )
    for name, content in files:
        for element in parse_xml(content).getroot().iter(f"{BPMN}process"):
            if element.get("id") == process:
                return name
    raise NotFound(f"no file of deployment {deployment_id} defines process {process!r}")


def taken_flows(diagram: bytes, markers: Markers) -> tuple[str, ...]:
    """Return the sequence flows from a completed element to one the instance reached."""
    reached = {*markers.completed, *markers.active, *markers.failed, *markers.cancelled}
    done = set(markers.completed)
    return tuple(
        sorted(
            flow.get("id")
            for flow in parse_xml(diagram).getroot().iter(f"{BPMN}sequenceFlow")
            if flow.get("sourceRef") in done and flow.get("targetRef") in reached
        )
    )


def markers(states, counts: dict[str, int]) -> Markers:
    """Give each element the marker of its most telling task state."""
    by_element: dict[str, str] = {}
    for bpmn_id, state in states:
        current = by_element.get(bpmn_id)
        if current is None or PRECEDENCE.index(state) < PRECEDENCE.index(current):
            by_element[bpmn_id] = state
    grouped = {
        kind: tuple(sorted(e for e, s in by_element.items() if s == kind)) for kind in PRECEDENCE
    }
    return Markers(**grouped, counts=dict(counts))
