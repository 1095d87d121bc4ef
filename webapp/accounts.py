"""Account functions: create users, set roles, authenticate with lockout, issue API tokens."""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from service_tasks.identifiers import is_valid_iin

from .db.accounts import ApiToken, SignInAttempt, User, UserRole
from .db.base import utcnow

ROLES = ("clerk", "supervisor", "process_owner", "analyst", "administrator", "applicant")
# The roles of the people who work a process's tasks in an office: tasks may be given to them.
STAFF_ROLES = frozenset(ROLES) - {"applicant"}
MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
# Checked against when the user name is unknown, so that both answers take the same time.
_UNKNOWN_USER_HASH = generate_password_hash("unknown user", method="scrypt")


class AccountError(ValueError):
    """A request about accounts that cannot be carried out, with a reason for people."""


def hash_password(password: str) -> str:
    """Return the scrypt hash of a password."""
    return generate_password_hash(password, method="scrypt")


def _checked_roles(roles: Iterable[str]) -> set[str]:
    wanted = set(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise AccountError(f"unknown role: {', '.join(sorted(unknown))}")
    return wanted


def find_user(session: Session, username: str) -> User | None:
    """Return the user with this user name, or None."""
    return session.scalar(select(User).where(User.username == username))


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[str],
    iin: str | None = None,
    full_name: str | None = None,
) -> User:
    """Add a user with a hashed password and the given roles; applicants need a valid IIN."""
    wanted = _checked_roles(roles)
    if not username or len(username) > 120:
        raise AccountError("a user name of 1 to 120 characters is needed")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if iin is not None and not is_valid_iin(iin):
        raise AccountError(f"not a valid IIN: {iin}")
    if "applicant" in wanted and iin is None:
        raise AccountError("an applicant needs an IIN")
    if find_user(session, username) is not None:
        raise AccountError(f"user {username} exists already")
    user = User(
        username=username,
        password_hash=hash_password(password),
        iin=iin,
        full_name=full_name,
        role_rows=[UserRole(role=role) for role in sorted(wanted)],
    )
    session.add(user)
    session.flush()
    return user


def set_roles(session: Session, username: str, roles: Iterable[str]) -> User:
    """Replace the user's roles with the given ones."""
    wanted = _checked_roles(roles)
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username}")
    if "applicant" in wanted and user.iin is None:
        raise AccountError("an applicant needs an IIN")
    kept = [row for row in user.role_rows if row.role in wanted]
    added = [UserRole(role=role) for role in sorted(wanted - user.roles)]
    user.role_rows = kept + added
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, now: datetime) -> User | None:
    """Return the user when the password is right and the account is open, else None.

    Five failures in a row lock the account for fifteen minutes; while it is locked even the
    right password fails. The answer is the same for unknown users, so it tells nothing about
    who exists.
    """
    user = find_user(session, username)
    if user is None:
        check_password_hash(_UNKNOWN_USER_HASH, password)
        session.add(SignInAttempt(username=username[:120], succeeded=False, at=now))
        return None
    locked = user.locked_until is not None and user.locked_until > now
    valid = check_password_hash(user.password_hash, password)
    succeeded = valid and not locked and user.active
    session.add(SignInAttempt(username=username, user_id=user.id, succeeded=succeeded, at=now))
    if succeeded:
        user.failed_attempts = 0
        user.locked_until = None
        return user
    if not locked:
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.failed_attempts = 0
            user.locked_until = now + LOCKOUT
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, username: str) -> str:
    """Create an API token for the user and return it; only its digest is stored."""
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username}")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, digest=_digest(token)))
    session.flush()
    return token


@dataclass(frozen=True)
class Account:
    """Who a bearer token belongs to: the user's identity and roles, detached from the session."""

    id: int
    username: str
    full_name: str | None
    iin: str | None
    roles: frozenset[str]


def user_for_token(session: Session, token: str) -> Account | None:
    """Return the active user a bearer token belongs to, or None.

    Every API call asks this: one query answers it (a row per role), without ORM objects.
    """
    rows = session.execute(
        select(
            ApiToken.id.label("token_id"),
            ApiToken.last_used_at,
            User.id,
            User.username,
            User.full_name,
            User.iin,
            UserRole.role,
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(ApiToken.digest == _digest(token), User.active.is_(True))
    ).all()
    if not rows:
        return None
    first = rows[0]
    now = utcnow()
    # Noted once a minute at most, so that API reads rarely write; of concurrent calls that
    # all saw an old time, the first to write makes the others' condition false.
    stale = now - TOKEN_USE_RESOLUTION
    if first.last_used_at is None or first.last_used_at < stale:
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == first.token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < stale),
            )
            .values(last_used_at=now)
        )
    roles = frozenset(row.role for row in rows if row.role is not None)
    return Account(first.id, first.username, first.full_name, first.iin, roles)


def users_with_role(session: Session, role: str) -> list[User]:
    """Return the active users holding a role, by user name."""
    query = (
        select(User)
        .join(UserRole)
        .where(UserRole.role == role, User.active.is_(True))
        .order_by(User.username)
    )
    return list(session.scalars(query))


class AccountDirectory:
    """The runtime's directory of people: user accounts, their IINs and their roles."""

    def identities(self, session: Session, actor: str) -> frozenset[str]:
        """Return the names tasks are assigned to the user by: user name and IIN."""
        iin = session.scalar(select(User.iin).where(User.username == actor))
        return frozenset((actor, iin) if iin else (actor,))

    def refusal(self, session: Session, user: str, role: str | None) -> str | None:
        """Return why the user may not be given a task of the role, or None when they may."""
        if role not in STAFF_ROLES:
            return f"tasks of the {role or 'unnamed'} lane are not given to staff"
        account = find_user(session, user)
        if account is None:
            return "there is no such user"
        if not account.active:
            return "the user's account is disabled"
        if role not in account.roles:
            return f"the user does not hold the {role} role"
        return None
