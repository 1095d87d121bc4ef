"""The runtime's directory of people: who a task may be assigned or given to."""

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from webapp.db.accounts import User, UserRole

from .users import ROLES

# The roles of the people who work a process's tasks in an office: tasks may be given to them.
STAFF_ROLES = frozenset(ROLES) - {"applicant"}
# Whether a user is active and holds a role, and their centre, in one statement: a counter
# start asks it.
STANDING = select(
    User.active,
    select(UserRole.role)
    .where(UserRole.user_id == User.id, UserRole.role == bindparam("role"))
    .exists(),
    User.centre,
).where(User.username == bindparam("username"))


class AccountDirectory:
    """User accounts, their IINs and their roles, as the runtime asks of them."""

    def identities(self, session: Session, actor: str) -> frozenset[str]:
        """Return the names tasks are assigned to the user by: user name and IIN."""
        iin = session.scalar(select(User.iin).where(User.username == actor))
        return frozenset((actor, iin) if iin else (actor,))

    def standing(
        self, session: Session, user: str, role: str | None
    ) -> tuple[str | None, str | None]:
        """Return why the user may not be given a task of the role (None when they may) and
        the service centre they work at (None for none)."""
        if role not in STAFF_ROLES:
            return f"tasks of the {role or 'unnamed'} lane are not given to staff", None
        standing = session.execute(STANDING, {"username": user, "role": role}).first()
        if standing is None:
            return "there is no such user", None
        active, holds_role, centre = standing
        if not active:
            return "the user's account is disabled", centre
        if not holds_role:
            return f"the user does not hold the {role} role", centre
        return None, centre

    def centre(self, session: Session, user: str) -> str | None:
        """Return the service centre the user works at, or None."""
        return session.scalar(select(User.centre).where(User.username == user))
