"""Who holds a user task: claims, releases and a supervisor's reassignments, each audited."""

from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Instance

from . import audit
from .assignment import (
    MayAct,
    centre_record,
    check_actor,
    check_may_act,
    check_reassignment,
    holding,
)
from .errors import Conflict, NotFound
from .task_list import IS_ACTIVE
from .views import TaskView

REASSIGN = (
    update(HumanTask)
    .where(HumanTask.id == bindparam("task_id"), IS_ACTIVE)
    .returning(*(getattr(HumanTask, name) for name in TaskView.__dataclass_fields__))
)
CLAIM = REASSIGN.where(HumanTask.claimed_by.is_(None))
RELEASE = REASSIGN.where(HumanTask.claimed_by == bindparam("holder"))
VERSION_OF_INSTANCE = select(Instance.process_version_id).where(
    Instance.id == bindparam("instance_id")
)


class Claims:
    """The runtime's task claims (mixed into `Runtime`)."""

    def claim(self, task_id: str, actor: str, may_act: MayAct | None = None) -> TaskView:
        """Claim a ready task for `actor`; a task claimed by someone else is a conflict.

        `may_act`, the caller's rule of who may act on the task, is applied to the task's
        row in the claim's own transaction.
        """
        return self._set_claim(task_id, actor, CLAIM, "claimed", new=actor, may_act=may_act)

    def unclaim(self, task_id: str, actor: str, may_act: MayAct | None = None) -> TaskView:
        """Give a claimed task back to its role's queue (`may_act` as for `claim`)."""
        return self._set_claim(
            task_id, actor, RELEASE, "unclaimed", new=None, may_act=may_act, holder=actor
        )

    def assign(self, task_id: str, user: str, actor: str) -> TaskView:
        """Reassign a task to `user` (a supervisor's decision), whoever holds it now.

        Only an active staff user holding the task's role may be given it (the directory
        decides); a task assigned to a person is never reassigned.
        """
        return self._set_claim(task_id, actor, REASSIGN, "assigned", new=user)

    def _set_claim(
        self,
        task_id: str,
        actor: str,
        statement: Update,
        kind: str,
        new: str | None,
        may_act: MayAct | None = None,
        **condition: str,
    ) -> TaskView:
        """Change who holds a task with `statement`, checked and audited in one transaction."""
        now, task_id = self.clock(), str(task_id)
        values = {"claimed_by": new, "state": "claimed" if new else "ready"}
        values["claimed_at"] = now if new else None
        with self.transaction() as session:
            db = session.connection()
            data = {}
            if may_act is not None or kind in ("claimed", "assigned"):
                held = holding(db, task_id)
                check_may_act(may_act, held, task_id, actor)
                if kind == "claimed":
                    check_actor(self.directory, session, task_id, held.assignee, actor)
                    data = centre_record(self.directory, session, actor)
                elif kind == "assigned":
                    where = check_reassignment(
                        self.directory, session, task_id, held.assignee, held.role, new
                    )
                    data = {"user": new} | where
            changed = db.execute(statement, {"task_id": task_id, **values, **condition}).first()
            if changed is None:
                row = db.execute(
                    select(HumanTask.state, HumanTask.claimed_by).where(HumanTask.id == task_id)
                ).first()
                if row is None:
                    raise NotFound(f"no task {task_id}")
                holder = row.claimed_by or "nobody"
                raise Conflict(f"task {task_id} is {row.state} and held by {holder}")
            task = TaskView(*changed)
            self._append_event(
                session,
                task.instance_id,
                at=now,
                kind=kind,
                task_id=task_id,
                bpmn_id=task.bpmn_id,
                name=task.name,
                task_type="UserTask",
                actor=actor,
                data=data or None,
            )
            return task

    def _append_event(self, session: Session, instance_id: int, **event) -> None:
        """Append an audit event to an instance outside a step (claims, dropped messages)."""
        db = session.connection()
        version_id = db.scalar(VERSION_OF_INSTANCE, {"instance_id": instance_id})
        info = self.versions.get(session, version_id)
        audit.append(db, info.process_id, info.version, instance_id, **event)
