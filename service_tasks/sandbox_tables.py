"""The sandbox registries' tables and the engine they live on (SQLite or PostgreSQL).

The sandbox keeps its own tables (not the product's migrations): persons and premises as JSON
documents of the data set format, and a write log of every registration, ID card rewrite and
notice, unique per (operation, idempotency key).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from webapp.db.session import ping_when_idle

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

person_table = Table(
    "sandbox_person",
    metadata,
    Column("iin", String(12), primary_key=True),
    Column("doc", JSON, nullable=False),
    # Copies of the registrations' ARCs, so that registered_count is an indexed count.
    Column("registration_arc", String(64), index=True),
    Column("temporary_arc", String(64), index=True),
)

premises_table = Table(
    "sandbox_premises",
    metadata,
    Column("arc", String(64), primary_key=True),
    Column("doc", JSON, nullable=False),
)

write_table = Table(
    "sandbox_write",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation", String(32), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("application_number", String(64), nullable=False, index=True),
    Column("iin", String(12)),
    Column("arc", String(64)),
    Column("payload", JSON, nullable=False),
    # The answer without the id the row's number makes (`write_answer` adds it).
    Column("result", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("operation", "idempotency_key"),
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# The answers whose id is the write log row's number: operation -> (key, prefix).
ROW_IDS = {"register": ("registration_id", "RP-"), "notify": ("delivery_id", "N-")}


def write_answer(operation: str, row_id: int, result: dict[str, Any] | None) -> dict[str, Any]:
    """Return a logged write's answer: its stored part with the id its row number makes."""
    answer = dict(result or {})
    if operation in ROW_IDS:
        key, prefix = ROW_IDS[operation]
        answer[key] = f"{prefix}{row_id:08d}"
    return answer


def create_sandbox_engine(url: str) -> Engine:
    """Create the engine of a sandbox database, its connections in the driver's autocommit.

    Each statement commits by itself: a lookup or a write that is one statement has no BEGIN
    and no COMMIT around it, one round trip. `transaction` groups statements when a call needs
    more than one. No connection switches its mode on checkout and back on return, and the
    engine has no events of its own to dispatch on each statement.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        ping_when_idle(engine)
        return engine
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # As the product's database: in WAL a commit survives a crash of the process
            # without waiting for the disk, which cost each registry write a few milliseconds.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """Run the block's statements in one transaction of a sandbox engine's connection.

    On SQLite the transaction takes the write lock when it begins: a deferred one that reads
    and then writes fails at once with "database is locked" when another writer got in
    between, an immediate one waits instead.
    """
    begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else "BEGIN"
    with engine.connect() as connection:
        connection.exec_driver_sql(begin)
        yield connection
        connection.commit()
