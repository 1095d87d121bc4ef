"""Engines and sessions: SQLite (WAL, BEGIN IMMEDIATE) or PostgreSQL through psycopg 3."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10, **kwargs) -> Engine:
    """Create an engine; on SQLite every transaction takes the write lock when it begins.

    On PostgreSQL each process keeps `pool_size` connections open and opens up to
    `max_overflow` more under load; size them so that processes x (pool + overflow) stays
    below the server's `max_connections`.

    A read-then-write transaction under SQLite's default deferred BEGIN can lose an update
    when two writers interleave, so every transaction starts with BEGIN IMMEDIATE and waits
    (busy_timeout) instead of failing.
    """
    if not url.startswith("sqlite"):
        return create_engine(
            url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, **kwargs
        )
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


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
