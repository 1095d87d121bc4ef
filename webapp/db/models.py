"""The runtime's tables: deployments, process versions, instances and their read models."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .summary import summary_text


class Deployment(Base):
    """A bundle of BPMN, DMN and form files, identified by its content hash.

    A deployment proposed in the browser is `pending` until a second person approves it (or
    rejects it); only the processes of an `approved` deployment start instances. Who decided,
    and when, is kept on the row.
    """

    __tablename__ = "deployment"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    deployed_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="approved", server_default="approved")
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]


class DeploymentFile(Base):
    """One file of a deployment, kept so that diagrams and forms can be shown and diffed."""

    __tablename__ = "deployment_file"
    __table_args__ = (UniqueConstraint("deployment_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    name: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessVersion(Base):
    """An executable process of a deployment; instances keep the version they started on."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    bpmn_file: Mapped[str] = mapped_column(String(255))
    spec: Mapped[str] = mapped_column(Text)
    message_starts: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Instance(Base):
    """A process instance: one compact state document, the spec kept out of it."""

    __tablename__ = "instance"
    __table_args__ = (
        Index(None, "status", "id"),
        # Covers the dashboard's scope, lead times and throughput without reading rows.
        Index(None, "process_version_id", "created_at", "completed_at"),
        Index(None, "process_id", "id"),
        Index(None, "process_version_id", "id"),
        # An application number names one application: registry writes are keyed by it.
        Index(None, "process_id", "business_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    serializer_version: Mapped[str] = mapped_column(String(20))
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()

    __mapper_args__ = {"version_id_col": lock_version}


# An administrator finds the application of the person who calls about it by IIN.
SEARCHED_SUMMARY_FIELDS = ("applicant_iin", "person_iin")
for _field in SEARCHED_SUMMARY_FIELDS:
    Index(f"ix_instance_{_field}", summary_text(Instance.summary, _field))


class HumanTask(Base):
    """A user task as the task lists see it, so that no list ever loads a workflow."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index(None, "state", "due_at", "id"),
        Index(None, "state", "role", "due_at", "id"),
        Index(None, "state", "assignee", "due_at", "id"),
        Index(None, "state", "claimed_by", "due_at", "id"),
        # Covers the dashboard's waiting and working split without reading rows.
        Index(
            "ix_human_task_dashboard",
            "instance_id",
            "state",
            "bpmn_id",
            "name",
            "created_at",
            "claimed_at",
            "completed_at",
            "called_process",
        ),
        Index(None, "state", "channel", "due_at", "id"),
        Index(None, "state", "role", "channel", "due_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(120), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(255))
    # The process a call activity started that the task belongs to; None in the instance's own.
    called_process: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(120))
    role: Mapped[str | None] = mapped_column(String(60))
    assignee: Mapped[str | None] = mapped_column(String(120))
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    form: Mapped[str | None] = mapped_column(String(255))
    ui_form: Mapped[str | None] = mapped_column(String(255))
    instructions: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(60))
    due_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(120))


class HumanTaskKey(Base):
    """A value a task can be searched by (say, a person's IIN), copied from its instance's data."""

    __tablename__ = "human_task_key"
    __table_args__ = (Index(None, "key", "task_id"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)


class InstanceEvent(Base):
    """Append-only audit log: every state change, with the data a completed task changed."""

    __tablename__ = "instance_event"
    __table_args__ = (
        Index(None, "instance_id", "id"),
        # Covers the dashboard's element counts and the start-to-completion pairs it times.
        Index(
            "ix_instance_event_dashboard",
            *("instance_id", "kind", "task_id", "at", "bpmn_id", "name", "called_process"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str | None] = mapped_column(String(255))
    # The process a call activity started that the element belongs to; None in the instance's
    # own process (embedded subprocesses included: they are drawn in their parent's diagram).
    called_process: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    task_type: Mapped[str | None] = mapped_column(String(60))
    actor: Mapped[str | None] = mapped_column(String(120))
    data: Mapped[dict | None] = mapped_column()


class Job(Base):
    """A due timer, service-task retry or thrown message, taken by the worker.

    A message one instance threw is a job of that instance, written in the step that threw it
    and removed in the transaction that delivers it (`payload` holds it).
    """

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_id", "kind"),
        Index(None, "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    task_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column()
    payload: Mapped[dict | None] = mapped_column()


class MessageSubscription(Base):
    """What a waiting instance listens for, so a message finds its instance by index."""

    __tablename__ = "message_subscription"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_id"),
        Index(None, "message_name", "correlation_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"))
    task_id: Mapped[str] = mapped_column(String(36))
    message_name: Mapped[str] = mapped_column(String(255))
    correlation: Mapped[dict] = mapped_column(default=dict)
    correlation_key: Mapped[str] = mapped_column(String(500))


class Incident(Base):
    """A technical failure of a service task: open until a retry succeeds or it is resolved."""

    __tablename__ = "incident"
    __table_args__ = (Index(None, "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    trace: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
