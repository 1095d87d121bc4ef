"""Locking, reading and saving the instance row a step works on, through Core."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from webapp.db.models import HumanTask, Instance

from .errors import Conflict, NotFound
from .serializer import SERIALIZER_VERSION
from .views import TaskView


@dataclass
class InstanceRecord:
    """The instance row a step works on; steps read and write it through Core."""

    id: int
    process_version_id: int
    process_id: str
    business_key: str | None
    status: str
    state: bytes
    lock_version: int
    completed_at: datetime | None


# The statements every step runs, built once with bound parameters: SQLAlchemy computes a
# cache key for each new statement object, which costs more than SQLite takes to run it.
RECORD = select(*(getattr(Instance, name) for name in InstanceRecord.__dataclass_fields__))
READ_RECORD = RECORD.where(Instance.id == bindparam("instance_id"))
LOCK_RECORD = READ_RECORD.with_for_update()
# A task's row comes with the lock of its instance: what completing it checks, in one round
# trip. Only the instance row is locked, as every step locks it: locking the task row too
# would deadlock against a step of the instance that closes that row.
LOCK_RECORD_OF_TASK = (
    select(
        *RECORD.selected_columns, *(getattr(HumanTask, n) for n in TaskView.__dataclass_fields__)
    )
    .join_from(HumanTask, Instance, HumanTask.instance_id == Instance.id)
    .where(HumanTask.id == bindparam("task_id"))
    .with_for_update(of=Instance)
)
RECORD_WIDTH = len(InstanceRecord.__dataclass_fields__)
SAVE_INSTANCE = update(Instance).where(
    Instance.id == bindparam("instance_id"), Instance.lock_version == bindparam("locked_version")
)


def read(db: Connection, instance_id: int, lock: bool = True) -> InstanceRecord:
    """Read (and lock, for a step) the instance row."""
    query = LOCK_RECORD if lock else READ_RECORD
    row = db.execute(query, {"instance_id": instance_id}).first()
    if row is None:
        raise NotFound(f"no instance {instance_id}")
    return InstanceRecord(*row)


def lock_of_task(db: Connection, task_id: str) -> tuple[InstanceRecord, TaskView]:
    """Read and lock the row of the instance a user task belongs to; return it with the
    task's own task-list row, in whatever state that row is."""
    row = db.execute(LOCK_RECORD_OF_TASK, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task {task_id}")
    return InstanceRecord(*row[:RECORD_WIDTH]), TaskView(*row[RECORD_WIDTH:])


def save(db: Connection, instance: InstanceRecord, state: bytes, summary: dict, now) -> None:
    """Write the instance's new state, refusing when another step changed it meanwhile."""
    saved = db.execute(
        SAVE_INSTANCE,
        {
            "instance_id": instance.id,
            "locked_version": instance.lock_version,
            "process_version_id": instance.process_version_id,
            "status": instance.status,
            "state": state,
            "serializer_version": SERIALIZER_VERSION,
            "business_key": instance.business_key,
            "summary": summary,
            "updated_at": now,
            "completed_at": instance.completed_at,
            "lock_version": instance.lock_version + 1,
        },
    )
    if saved.rowcount != 1:
        raise Conflict(f"instance {instance.id} was changed by another step")
