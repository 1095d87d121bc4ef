"""Engines and sessions: SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL through psycopg 3."""

import json
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")
# A pooled connection back within this many seconds is used without a ping: under load every
# connection is, and a ping is a round trip on each checkout (several per request).
PING_AFTER_IDLE_SECONDS = 5.0


# The text of a JSON column's value: a date, or another value a script leaves in task data, is
# written as its text (an ISO date), as the instance's data shows it. One encoder: `json.dumps`
# with an argument builds a new one on every call.
dumps_json = json.JSONEncoder(default=str).encode


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10, **kwargs) -> Engine:
    """Create an engine; on SQLite every transaction takes the write lock when it begins.

    On PostgreSQL each process keeps `pool_size` connections open and opens up to
    `max_overflow` more under load; size them so that processes x (pool + overflow) stays
    below the server's `max_connections`.

    A read-then-write transaction under SQLite's default deferred BEGIN can lose an update
    when two writers interleave, so every transaction starts with BEGIN IMMEDIATE and waits
    (busy_timeout) instead of failing.
    """
    kwargs.setdefault("json_serializer", dumps_json)
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, **kwargs)
        ping_when_idle(engine)
        return engine
    engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Straight to the driver: every transaction runs this, and SQLAlchemy's execution
        # machinery around a statement without parameters or rows costs more than the BEGIN.
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection on checkout only when it sat idle, and replace a dead one.

    SQLAlchemy's `pool_pre_ping` pings on every checkout; a connection the server closed
    (a restart, an idle timeout) is found as well by pinging those that waited a while.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001  (any failure means the connection is gone)
            raise DisconnectionError(str(error)) from error
        if not alive:
            raise DisconnectionError("the connection did not answer a ping")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory used by every part of the product."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic configuration bound to the engine."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    command.upgrade(alembic_config(engine), "head")
