"""Sandbox registries: the national registries stood in for by a small database of their own.

The sandbox keeps its own tables (not the product's migrations): persons and premises as
JSON documents of the data set format, and a write log of every registration, ID card rewrite
and notice. A UNIQUE constraint on (operation, idempotency key) makes each write happen once per
key, also when a retry races the first attempt; a call under a logged key with other content
is refused with `KeyReused`.
"""

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime
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
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from service_tasks.dataset import parse_dataset, read_dataset_file
from service_tasks.errors import BusinessError, KeyReused, TechnicalError
from service_tasks.identifiers import ARC_MAX_LENGTH, ARC_MIN_LENGTH
from service_tasks.interfaces import Registries
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
    Column("result", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("operation", "idempotency_key"),
)

SQLITE_BUSY_TIMEOUT_MS = 10_000

# The statements of every call, built once with bound parameters: building one costs more
# than running it.
PERSON_DOC = select(person_table.c.doc).where(person_table.c.iin == bindparam("key"))
PERSON_DOC_FOR_UPDATE = PERSON_DOC.with_for_update()
PREMISES_DOC = select(premises_table.c.doc).where(premises_table.c.arc == bindparam("key"))
REGISTERED_COUNT = select(func.count()).where(
    or_(
        person_table.c.registration_arc == bindparam("arc"),
        person_table.c.temporary_arc == bindparam("arc"),
    )
)
SAVE_PERSON = (
    update(person_table)
    .where(person_table.c.iin == bindparam("person"))
    .values(
        doc=bindparam("doc"),
        registration_arc=bindparam("registration_arc"),
        temporary_arc=bindparam("temporary_arc"),
    )
)
LOG_WRITE = insert(write_table).returning(write_table.c.id)
# A write's result, and what applying it adds to its log entry (the registration it replaced).
WRITE_DONE = (
    update(write_table)
    .where(write_table.c.id == bindparam("row_id"))
    .values(result=bindparam("result"), payload=bindparam("payload"))
)


def create_sandbox_engine(url: str) -> Engine:
    """Create the engine of a sandbox database; on SQLite with WAL and immediate writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url)
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
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so that it can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # As the product's database: in WAL a commit survives a crash of the process
            # without waiting for the disk, which cost each registry write a few milliseconds.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is
        # locked" when another writer got in between; taking the write lock first waits instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class SandboxStore:
    """The sandbox registries' database: load a data set, answer lookups, log writes."""

    def __init__(
        self,
        url: str,
        arc_min_length: int = ARC_MIN_LENGTH,
        arc_max_length: int = ARC_MAX_LENGTH,
    ) -> None:
        self.engine = create_sandbox_engine(url)
        # A lookup is one statement: on PostgreSQL it runs without BEGIN and ROLLBACK around
        # it. SQLite keeps its immediate transactions, which make readers wait for a writer.
        self.reader = self.engine
        if self.engine.dialect.name != "sqlite":
            self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.arc_min_length = arc_min_length
        self.arc_max_length = arc_max_length
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def registries(self) -> Registries:
        """Return the sandbox connector of every registry."""
        return Registries(
            population=SandboxPopulation(self),
            mobile=SandboxMobile(self),
            address=SandboxAddress(self),
            realestate=SandboxRealEstate(self),
            consular=SandboxConsular(self),
            registration=SandboxRegistrationPoint(self),
            idcard=SandboxIdCard(self),
            notify=SandboxNotifications(self),
        )

    def is_empty(self) -> bool:
        """Tell whether no data set has been loaded yet."""
        with self.engine.connect() as conn:
            return conn.execute(select(person_table.c.iin).limit(1)).first() is None

    def load_dataset(self, doc: dict[str, Any]) -> dict[str, int]:
        """Replace all persons, premises and the write log with a data set; return counts."""
        persons, premises = parse_dataset(doc, self.arc_min_length, self.arc_max_length)
        with self.engine.begin() as conn:
            conn.execute(delete(write_table))
            conn.execute(delete(person_table))
            conn.execute(delete(premises_table))
            _insert_records(conn, persons, premises)
        return {"persons": len(persons), "premises": len(premises)}

    def add_dataset(self, doc: dict[str, Any]) -> dict[str, int]:
        """Add a data set's persons and premises to the loaded ones, keeping the write log.

        An IIN or ARC that is loaded already is refused by the primary keys: nothing is added.
        """
        persons, premises = parse_dataset(doc, self.arc_min_length, self.arc_max_length)
        with self.engine.begin() as conn:
            _insert_records(conn, persons, premises)
        return {"persons": len(persons), "premises": len(premises)}

    def load_dataset_file(self, path: str | Path) -> dict[str, int]:
        """Replace all data with the data set in a JSON file; return counts."""
        return self.load_dataset(read_dataset_file(path))

    def writes(
        self, operation: str | None = None, application_number: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the logged writes, oldest first, optionally of one operation or application."""
        query = select(write_table).order_by(write_table.c.id)
        if operation is not None:
            query = query.where(write_table.c.operation == operation)
        if application_number is not None:
            query = query.where(write_table.c.application_number == application_number)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                "id": row["id"],
                "operation": row["operation"],
                "application_number": row["application_number"],
                "iin": row["iin"],
                "arc": row["arc"],
                "payload": row["payload"],
                "result": row["result"],
                "created_at": _utc(row["created_at"]).isoformat(),
            }
            for row in rows
        ]

    def person_doc(self, conn: Connection, iin: str, for_update: bool = False) -> dict | None:
        """Return a copy of a person's document, or None."""
        query = PERSON_DOC_FOR_UPDATE if for_update else PERSON_DOC
        doc = conn.execute(query, {"key": iin}).scalar_one_or_none()
        return dict(doc) if doc is not None else None

    def premises_doc(self, conn: Connection, arc: str) -> dict | None:
        """Return a copy of a premises' document, or None."""
        doc = conn.execute(PREMISES_DOC, {"key": arc}).scalar_one_or_none()
        return dict(doc) if doc is not None else None

    def registered_count(self, conn: Connection, arc: str) -> int:
        """Count the persons with a permanent or temporary registration at an ARC."""
        return conn.execute(REGISTERED_COUNT, {"arc": arc}).scalar_one()

    def save_person(self, conn: Connection, doc: dict[str, Any]) -> None:
        """Store a changed person document with its indexed registration columns."""
        row = _person_row(doc)
        conn.execute(SAVE_PERSON, {**row, "person": row.pop("iin")})

    def write_once(
        self,
        operation: str,
        idempotency_key: str,
        values: dict[str, Any],
        apply: Callable[[Connection, int], tuple[dict[str, Any], dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """Log a write and apply it, once per key; return its result and whether it was new.

        `values` are the call's content (application number, IIN, ARC, payload): a second call
        with the key is answered with the first one's result when its content is the same, and
        refused with `KeyReused` when it differs. `apply` returns the result and what it adds
        to the logged payload; both are written in one statement.
        """
        try:
            with self.engine.begin() as conn:
                row = {"arc": None, **values, "operation": operation}
                row |= {"idempotency_key": idempotency_key, "created_at": datetime.now(UTC)}
                row_id = conn.execute(LOG_WRITE, row).scalar_one()
                result, added = apply(conn, row_id)
                payload = {**values["payload"], **added}
                conn.execute(WRITE_DONE, {"row_id": row_id, "result": result, "payload": payload})
            return result, True
        except IntegrityError:
            # Another call with the same key committed first: answer as it did.
            with self.engine.connect() as conn:
                first = self.logged_write(conn, operation, idempotency_key)
            if not _same_content(first, values):
                raise KeyReused(
                    f"the registration point holds another {operation} under the idempotency"
                    f" key {idempotency_key!r}"
                ) from None
            return first["result"], False

    def logged_write(self, conn: Connection, operation: str, idempotency_key: str) -> dict | None:
        """Return a logged write as a mapping, or None."""
        row = (
            conn.execute(
                select(write_table).where(
                    write_table.c.operation == operation,
                    write_table.c.idempotency_key == idempotency_key,
                )
            )
            .mappings()
            .one_or_none()
        )
        return dict(row) if row is not None else None


def _insert_records(conn: Connection, persons: list[dict], premises: list[dict]) -> None:
    """Insert normalised persons and premises."""
    if persons:
        conn.execute(insert(person_table), [_person_row(p) for p in persons])
    if premises:
        conn.execute(insert(premises_table), [{"arc": p["arc"], "doc": p} for p in premises])


class SandboxPopulation:
    """Population registry backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def person(self, iin: str) -> dict[str, Any]:
        """Return the person record; raise `person_not_found` when there is none."""
        with self.store.reader.connect() as conn:
            doc = self.store.person_doc(conn, iin)
        if doc is None:
            raise BusinessError("person_not_found", f"No person with IIN {iin} in the registry")
        return doc


class SandboxMobile:
    """Mobile Citizens Database backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def phone(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "phone"}`, phone None when the person has none registered."""
        with self.store.reader.connect() as conn:
            doc = self.store.person_doc(conn, iin)
        return {"iin": iin, "phone": doc["phone"] if doc else None}


class SandboxAddress:
    """Address Register backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def premises(self, arc: str) -> dict[str, Any]:
        """Return the premises; raise `premises_not_found` when there is none."""
        with self.store.reader.connect() as conn:
            doc = self.store.premises_doc(conn, arc)
            if doc is None:
                raise _premises_not_found(arc)
            count = self.store.registered_count(conn, arc)
        return {
            "arc": arc,
            "address": doc["address"],
            "kind": doc["kind"],
            "accommodation": doc["accommodation"],
            "title": doc["title"],
            "registered_count": count,
        }


class SandboxRealEstate:
    """Real estate registry backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def title(self, arc: str) -> dict[str, Any]:
        """Return the title of the premises; raise `premises_not_found` when there is none."""
        with self.store.reader.connect() as conn:
            doc = self.store.premises_doc(conn, arc)
        if doc is None:
            raise _premises_not_found(arc)
        return {
            "arc": arc,
            "title": doc["title"],
            "state_rental": doc["state_rental"],
            "rental_contract": doc["rental_contract"],
            "owners": doc["owners"],
        }


class SandboxConsular:
    """Consular register backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def deregistration(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "deregistered", "country", "date"}`."""
        with self.store.reader.connect() as conn:
            doc = self.store.person_doc(conn, iin)
        abroad = (doc or {}).get("abroad") or {}
        return {
            "iin": iin,
            "deregistered": bool(abroad.get("deregistered")),
            "country": abroad.get("country"),
            "date": abroad.get("date"),
        }


class SandboxRegistrationPoint:
    """Registration point backed by the sandbox store; updates the persons' registrations."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def register(
        self,
        idempotency_key: str,
        application_number: str,
        iin: str,
        arc: str,
        registration_type: str,
        period_months: int | None,
    ) -> dict[str, Any]:
        """Record a registration; return `{"registration_id", "created", "closed_arc"}`.

        The person's document changes from the old registration to the new one in the one
        transaction that logs the write: the old permanent address is never closed alone.
        """
        today = datetime.now(UTC).date()
        payload: dict[str, Any] = {
            "registration_type": registration_type,
            "period_months": period_months if registration_type == "temporary" else None,
        }

        def apply(conn: Connection, row_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
            doc = _existing_person(self.store, conn, iin)
            closed = None
            if registration_type == "permanent":
                previous = doc["registration"]
                if previous and previous.get("kind") == "permanent" and previous["arc"] != arc:
                    closed = previous["arc"]
                doc["registration"] = {"arc": arc, "kind": "permanent", "since": today.isoformat()}
            else:
                previous = doc["temporary_registration"]
                doc["temporary_registration"] = {
                    "arc": arc,
                    "kind": "temporary",
                    "since": today.isoformat(),
                    "until": add_months(today, int(period_months or 0)).isoformat(),
                }
            self.store.save_person(conn, doc)
            result = {"registration_id": f"RP-{row_id:08d}", "closed_arc": closed}
            return result, {"previous": previous}

        values = {"application_number": application_number, "iin": iin, "arc": arc}
        result, created = self.store.write_once(
            "register", idempotency_key, {**values, "payload": payload}, apply
        )
        return {**result, "created": created}


class SandboxIdCard:
    """ID card address rewrite backed by the sandbox store."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def rewrite_address(
        self, idempotency_key: str, application_number: str, iin: str, arc: str
    ) -> dict[str, Any]:
        """Queue the rewrite of the card's address once per key; return `{"status"}`."""

        def apply(conn: Connection, _row_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
            _existing_person(self.store, conn, iin)
            return {"status": "done"}, {}

        values = {"application_number": application_number, "iin": iin, "arc": arc, "payload": {}}
        result, _ = self.store.write_once("idcard", idempotency_key, values, apply)
        return result


class SandboxNotifications:
    """Notifications recorded in the sandbox store's write log."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def send(
        self,
        idempotency_key: str,
        application_number: str,
        iin: str,
        channel: str,
        template: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Send a notice once per key; return `{"delivery_id"}`."""
        values = {
            "application_number": application_number,
            "iin": iin,
            "payload": {"channel": channel, "template": template, "params": params},
        }
        result, _ = self.store.write_once(
            "notify",
            idempotency_key,
            values,
            lambda _conn, row_id: ({"delivery_id": f"N-{row_id:08d}"}, {}),
        )
        return result


def add_months(start: date, months: int) -> date:
    """Return the date months after start, on the month's last day when it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _utc(moment: datetime) -> datetime:
    """Return a stored time in UTC; SQLite hands back naive times, which were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _person_row(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the table row of a person document."""
    registration = doc.get("registration") or {}
    temporary = doc.get("temporary_registration") or {}
    return {
        "iin": doc["iin"],
        "doc": doc,
        "registration_arc": registration.get("arc"),
        "temporary_arc": temporary.get("arc"),
    }


def _same_content(logged: dict[str, Any], values: dict[str, Any]) -> bool:
    """Tell whether a logged write was asked with the content of a new call.

    What a write adds to its log entry while applied (the registration it replaced) is not
    part of what was asked.
    """
    payload = logged["payload"] or {}
    asked = values.get("payload") or {}
    return all(
        logged[column] == values.get(column) for column in ("application_number", "iin", "arc")
    ) and all(payload.get(name) == value for name, value in asked.items())


def _existing_person(store: SandboxStore, conn: Connection, iin: str) -> dict[str, Any]:
    """Return a person's document for update; a write for an unknown person is a fault."""
    doc = store.person_doc(conn, iin, for_update=True)
    if doc is None:
        raise TechnicalError(f"the registration point knows no person with IIN {iin}")
    return doc


def _premises_not_found(arc: str) -> BusinessError:
    """Return the business error for an unknown ARC."""
    return BusinessError("premises_not_found", f"No premises with ARC {arc} in the registry")
