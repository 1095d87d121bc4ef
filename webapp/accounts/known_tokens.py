"""Bearer tokens this process has just found valid, so that API calls need not ask the database.

A token found valid is remembered, with its user, for `REMEMBER_SECONDS`. Any change to a user,
a role or a token committed in this process (revoking, disabling, new roles, by the admin pages,
the CLI or anything else) forgets every remembered token of that database at once; a change
made by another process takes effect here within `REMEMBER_SECONDS`. Unknown tokens are never
remembered, so a new token works at once and a guesser's tries all reach the database.
"""

import time
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Mapper, Session, object_session

from webapp.db.accounts import ApiToken, User, UserRole

REMEMBER_SECONDS = 2.0
# The key in a session's `info` naming the engines whose remembered tokens go at commit.
FORGET = "tirkeu_forget_tokens"


class KnownTokens:
    """The tokens of one database found valid lately: digest -> (account, found at)."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[Any, float]] = {}
        # Raised by every forgetting: a lookup that began before it keeps nothing.
        self.generation = 0

    def get(self, digest: str) -> Any:
        """Return the account of a token found valid less than `REMEMBER_SECONDS` ago."""
        entry = self.found.get(digest)
        if entry is None:
            return None
        account, found_at = entry
        if time.monotonic() - found_at >= REMEMBER_SECONDS:
            self.found.pop(digest, None)
            return None
        return account

    def keep(self, digest: str, account: Any, generation: int) -> None:
        """Remember a token found valid by a lookup begun at `generation`."""
        if generation == self.generation:
            self.found[digest] = (account, time.monotonic())

    def forget(self) -> None:
        """Forget every token, including what lookups still under way would keep."""
        self.generation += 1
        self.found = {}


_known: "weakref.WeakKeyDictionary[Engine, KnownTokens]" = weakref.WeakKeyDictionary()


def known_tokens(engine: Engine) -> KnownTokens:
    """Return the remembered tokens of a database."""
    known = _known.get(engine)
    if known is None:
        known = _known.setdefault(engine, KnownTokens())
    return known


def _account_changed(_mapper: Mapper, connection: Any, target: Any) -> None:
    """Forget the database's tokens now and again when the change commits.

    Now, so that nothing found before the change is used after it in this process; at commit,
    since a lookup running meanwhile still reads the old rows and would keep them.
    """
    engine = connection.engine
    known_tokens(engine).forget()
    session = object_session(target)
    if session is not None:
        session.info.setdefault(FORGET, set()).add(engine)


def _forget_at_commit(session: Session) -> None:
    """Forget the tokens of every database whose accounts this transaction changed."""
    for engine in session.info.pop(FORGET, ()):
        known_tokens(engine).forget()


for _model in (User, UserRole, ApiToken):
    for _change in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _change, _account_changed)
event.listen(Session, "after_commit", _forget_at_commit)
