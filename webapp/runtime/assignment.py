"""Who may act on a task: the person it is assigned to, and whom a supervisor may give it to.

The runtime knows people only by the names tasks carry; a directory handed to it by the
composition roots says which names an actor holds tasks by and whether a user may take a task
of a role. Without one, an actor is known by their own name only and nobody can be given a task.
"""

from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask

from .errors import Forbidden, InvalidData, NotFound


class Directory(Protocol):
    """The people the runtime's tasks are assigned to and given to."""

    def identities(self, session: Session, actor: str) -> frozenset[str]:
        """Return the names tasks are assigned to the actor by (user name, personal number)."""

    def standing(
        self, session: Session, user: str, role: str | None
    ) -> tuple[str | None, str | None]:
        """Return why the user may not be given a task of the role (None when they may) and
        the service centre they work at (None for none)."""

    def centre(self, session: Session, user: str) -> str | None:
        """Return the service centre the user works at, or None."""


# What a caller's own rule of who may act on a task reads (see `check_may_act`).
HOLDING = select(HumanTask.assignee, HumanTask.role, HumanTask.claimed_by).where(
    HumanTask.id == bindparam("task_id")
)
# A caller's rule of who may act on a task, given its row (assignee, role, claimed_by).
MayAct = Callable[[Any], bool]


def check_may_act(may_act: MayAct | None, task: Any, task_id: str, actor: str | None) -> None:
    """Refuse an act the caller's rule (roles, assignment, claim) does not allow on the task.

    The rule is applied to the task's row as the act's own transaction reads it, so that no
    change between deciding and acting can slip past it.
    """
    if may_act is not None and not may_act(task):
        raise Forbidden(f"{actor or 'the caller'} may not act on task {task_id}")


def holding(db: Connection, task_id: str) -> Any:
    """Return a task's (assignee, role, claimed_by), or refuse an unknown task."""
    row = db.execute(HOLDING, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task {task_id}")
    return row


def check_actor(
    directory: Directory | None,
    session: Session,
    task_id: str,
    assignee: str | None,
    actor: str | None,
) -> None:
    """Refuse an actor who is not the person the task is assigned to.

    A task of a role (no assignee) is left to the callers' role checks; an act without an actor
    is the operator's own (the command line), whose signed acts still need their signature.
    """
    if assignee is None or actor is None:
        return
    names = directory.identities(session, actor) if directory else frozenset((actor,))
    if assignee not in names:
        raise Forbidden(f"task {task_id} is assigned to another person: only they may act on it")


def check_reassignment(
    directory: Directory | None,
    session: Session,
    task_id: str,
    assignee: str | None,
    role: str | None,
    user: str,
) -> dict:
    """Refuse to give a task to anyone but an active staff user holding the task's role;
    return what the event records of where they work (`centre_record`).

    A task assigned to a person (an owner's consent) is theirs alone and is never given away.
    """
    if assignee is not None:
        raise Forbidden(f"task {task_id} is assigned to a person and cannot be reassigned")
    reason, centre = (
        directory.standing(session, user, role)
        if directory is not None
        else ("no user directory is configured to check who may take the task", None)
    )
    if reason:
        raise InvalidData(f"task {task_id} cannot be given to {user!r}: {reason}", {"user": reason})
    return _where(centre)


def centre_record(directory: Directory | None, session: Session, user: str) -> dict:
    """Return what a claim's event says of where it is worked: `{"centre"}` when the user
    works at a service centre, else nothing."""
    return _where(directory.centre(session, user) if directory else None)


def starter_hold(
    directory: Directory | None, session: Session, starter: str | None, role: str | None
) -> dict | None:
    """Tell whether a task the diagram gives to whoever started the instance may go to them:
    None when it may not, else what the claim's event records of where they work.

    Only a staff user holding the task's role may hold it, as with a supervisor's reassignment;
    anyone else leaves the task in the role's queue.
    """
    if starter is None or directory is None:
        return None
    reason, centre = directory.standing(session, starter, role)
    return None if reason else _where(centre)


def _where(centre: str | None) -> dict:
    return {"centre": centre} if centre else {}
