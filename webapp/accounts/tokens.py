"""API tokens: issue them, find whom one belongs to, list and revoke them."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, or_, select, update
from sqlalchemy.orm import Session

from webapp.db.accounts import ApiToken, User, UserRole
from webapp.db.base import utcnow

from .known_tokens import known_tokens
from .users import AccountError, find_user

TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, username: str) -> str:
    """Create an API token for the user and return it; only its digest is stored.

    The user's other tokens stay valid: `tokens_of` lists them and `revoke_token` ends one.
    """
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"no user {username}")
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, digest=_digest(token)))
    session.flush()
    return token


@dataclass(frozen=True)
class TokenInfo:
    """What can be told about an API token without the token itself."""

    id: int
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def tokens_of(session: Session, username: str | None = None) -> list[TokenInfo]:
    """Return the API tokens of a user (or of every user), revoked ones too, oldest first."""
    query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username is not None:
        if find_user(session, username) is None:
            raise AccountError(f"no user {username}")
        query = query.where(User.username == username)
    return [
        TokenInfo(row.id, owner, row.created_at, row.last_used_at, row.revoked_at)
        for row, owner in session.execute(query.order_by(ApiToken.id))
    ]


def revoke_token(session: Session, token_id: int, username: str | None = None) -> TokenInfo:
    """Revoke an API token at once; with a user name, only a token of that user."""
    row = session.get(ApiToken, token_id)
    owner = session.get(User, row.user_id) if row is not None else None
    if owner is None or (username is not None and owner.username != username):
        raise AccountError(f"no token {token_id}")
    if row.revoked_at is not None:
        raise AccountError(f"token {token_id} is revoked already")
    row.revoked_at = utcnow()
    session.flush()
    return TokenInfo(row.id, owner.username, row.created_at, row.last_used_at, row.revoked_at)


@dataclass(frozen=True)
class Account:
    """Who a bearer token belongs to: the user's identity and roles, detached from the session."""

    id: int
    username: str
    full_name: str | None
    iin: str | None
    roles: frozenset[str]


# Built once: every API call runs it, and building a statement costs more than running it.
TOKEN_OWNER = (
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
    .where(
        ApiToken.digest == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.active.is_(True),
    )
)
NOTE_TOKEN_USE = (
    update(ApiToken)
    .where(
        ApiToken.id == bindparam("token_id"),
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < bindparam("stale")),
    )
    .values(last_used_at=bindparam("now"))
)


def remembered_user(engine: Engine, token: str) -> Account | None:
    """Return the user of a token found valid moments ago (`known_tokens`), or None.

    It needs no session: an API call whose token is remembered opens none for it.
    """
    return known_tokens(engine).get(_digest(token))


def user_for_token(session: Session, token: str) -> Account | None:
    """Return the active user a valid (unrevoked) bearer token belongs to, or None.

    Every API call asks this. A token found valid within the last seconds is answered from
    memory (`known_tokens`: a revocation or a disabled account takes effect at once in this
    process); else one query answers it (a row per role), without ORM objects.
    """
    digest = _digest(token)
    known = known_tokens(session.get_bind())
    account = known.get(digest)
    if account is not None:
        return account
    generation = known.generation
    db = session.connection()
    rows = db.execute(TOKEN_OWNER, {"digest": digest}).all()
    if not rows:
        return None
    first = rows[0]
    now = utcnow()
    # Noted once a minute at most, so that API reads rarely write; of concurrent calls that
    # all saw an old time, the first to write makes the others' condition false.
    stale = now - TOKEN_USE_RESOLUTION
    if first.last_used_at is None or first.last_used_at < stale:
        db.execute(NOTE_TOKEN_USE, {"token_id": first.token_id, "stale": stale, "now": now})
    roles = frozenset(row.role for row in rows if row.role is not None)
    account = Account(first.id, first.username, first.full_name, first.iin, roles)
    known.keep(digest, account, generation)
    return account
