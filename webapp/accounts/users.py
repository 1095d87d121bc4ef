"""Users: create them, set their roles and passwords, disable them, and sign them in."""

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service_tasks.identifiers import is_valid_iin
from webapp.centres import centre_problem
from webapp.db.accounts import SignInAttempt, User, UserRole

from .passwords import hash_password, password_matches, password_problem, spend_a_check

ROLES = ("clerk", "supervisor", "process_owner", "analyst", "administrator", "applicant")
# Sign-in failures slow down the client that makes them instead of locking the account, so
# that guessing from one address cannot keep the real user, elsewhere, out.
FREE_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(minutes=15)


class AccountError(ValueError):
    """A request about accounts that cannot be carried out, with a reason for people."""


class SignInThrottled(AccountError):
    """Too many failed sign-ins for a user name from one client: it must wait."""

    def __init__(self, retry_after: int):
        super().__init__(
            f"too many failed sign-ins from this address: try again in {retry_after} seconds"
        )
        self.retry_after = retry_after


def _checked_roles(roles: Iterable[str]) -> set[str]:
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise AccountError(f"unknown role: {', '.join(sorted(unknown))}")
    return wanted


def _checked_centre(centre: str | None) -> str | None:
    """Return a service centre's id, refusing one that centres.json does not list."""
    problem = centre_problem(centre) if centre is not None else None
    if problem is not None:
        raise AccountError(f"centre: {problem}")
    return centre


def _checked_password(password: str, username: str, *details: str | None) -> str:
    """Return the password's hash, refusing one that does not meet the policy."""
    problem = password_problem(password, (username, *details))
    if problem is not None:
        raise AccountError(problem)
    return hash_password(password)


def find_user(session: Session, username: str) -> User | None:
    """Return the user with this user name, or None."""
    return session.scalar(select(User).where(User.username == username))


def _existing(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username}")
    return user


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[str],
    iin: str | None = None,
    full_name: str | None = None,
    centre: str | None = None,
) -> User:
    """Add a user with a hashed password and the given roles; applicants need a valid IIN.

    Staff may be given the service centre they work at.
    """
    wanted = _checked_roles(roles)
    centre = _checked_centre(centre)
    if not username or len(username) > 120:
        raise AccountError("a user name of 1 to 120 characters is needed")
    if iin is not None and not is_valid_iin(iin):
        raise AccountError(f"not a valid IIN: {iin}")
    if "applicant" in wanted and iin is None:
        raise AccountError("an applicant needs an IIN")
    if find_user(session, username) is not None:
        raise AccountError(f"user {username} exists already")
    user = User(
        username=username,
        password_hash=_checked_password(password, username, iin, *(full_name or "").split()),
        iin=iin,
        full_name=full_name,
        centre=centre,
        role_rows=[UserRole(role=role) for role in sorted(wanted)],
    )
    session.add(user)
    session.flush()
    return user


def set_roles(session: Session, username: str, roles: Iterable[str]) -> User:
    """Replace the user's roles with the given ones."""
    wanted = _checked_roles(roles)
    user = _existing(session, username)
    if "applicant" in wanted and user.iin is None:
        raise AccountError("an applicant needs an IIN")
    kept = [row for row in user.role_rows if row.role in wanted]
    added = [UserRole(role=role) for role in sorted(wanted - user.roles)]
    user.role_rows = kept + added
    session.flush()
    return user


def set_centre(session: Session, username: str, centre: str | None) -> User:
    """Set the service centre the user works at, or none."""
    user = _existing(session, username)
    user.centre = _checked_centre(centre)
    session.flush()
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """End every session of the user, wherever its cookie is kept."""
    user = session.get(User, user_id)
    if user is not None:
        user.session_generation += 1
        session.flush()


def set_password(session: Session, username: str, password: str) -> User:
    """Give the user a new password that meets the policy; their sessions end."""
    user = _existing(session, username)
    details = (user.iin, *(user.full_name or "").split())
    user.password_hash = _checked_password(password, user.username, *details)
    end_sessions(session, user.id)
    return user


def change_password(
    session: Session, username: str, current: str, new: str, now: datetime, client: str
) -> User:
    """Change the user's own password, once the current one is given right.

    A wrong current password counts as a failed sign-in, so that a session left open does not
    let anyone guess the password faster than the sign-in page does.
    """
    if authenticate(session, username, current, now, client) is None:
        raise AccountError("the current password is wrong")
    return set_password(session, username, new)


def set_active(session: Session, username: str, active: bool) -> User:
    """Enable or disable an account; disabling ends its sessions, and its tokens stop working."""
    user = _existing(session, username)
    user.active = active
    if not active:
        end_sessions(session, user.id)
    session.flush()
    return user


def _sign_in_wait(session: Session, username: str, client: str, now: datetime) -> int:
    """Return the seconds this client must still wait before trying this user name again."""
    since = now - FAILURE_WINDOW
    same = (SignInAttempt.username == username, SignInAttempt.client == client)
    succeeded = session.scalar(
        select(func.max(SignInAttempt.at)).where(*same, SignInAttempt.succeeded.is_(True))
    )
    if succeeded is not None and succeeded > since:
        since = succeeded
    failures, last = session.execute(
        select(func.count(), func.max(SignInAttempt.at)).where(
            *same, SignInAttempt.succeeded.is_(False), SignInAttempt.at > since
        )
    ).one()
    if failures < FREE_FAILURES:
        return 0
    delay = min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), LONGEST_DELAY)
    return max(0, math.ceil((last + delay - now).total_seconds()))


def authenticate(
    session: Session, username: str, password: str, now: datetime, client: str
) -> User | None:
    """Return the user when the password is right and the account is active, else None.

    After five failures within fifteen minutes for a user name from one client address, that
    client must wait before each further try (30 seconds, doubling, at most fifteen minutes),
    and `SignInThrottled` says how long; the account itself is never locked, so the real user
    signs in from elsewhere. The answer is the same for unknown users, so it tells nothing
    about who exists.
    """
    username = username[:120]
    client = client[:64]
    wait = _sign_in_wait(session, username, client, now)
    if wait:
        raise SignInThrottled(wait)
    user = find_user(session, username)
    if user is None:
        spend_a_check(password)
        session.add(SignInAttempt(username=username, client=client, succeeded=False, at=now))
        return None
    succeeded = password_matches(user.password_hash, password) and user.active
    session.add(
        SignInAttempt(
            username=username, user_id=user.id, client=client, succeeded=succeeded, at=now
        )
    )
    session.flush()
    return user if succeeded else None


def users_with_role(session: Session, role: str) -> list[User]:
    """Return the active users holding a role, by user name."""
    query = (
        select(User)
        .join(UserRole)
        .where(UserRole.role == role, User.active.is_(True))
        .order_by(User.username)
    )
    return list(session.scalars(query))
