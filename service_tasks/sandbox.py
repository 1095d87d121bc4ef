"""Sandbox registries: the national registries stood in for by a small database of their own.

Each call is one transaction on the store's pool, and as few statements as its semantics
allow: a lookup is one SELECT, a notice or an ID card rewrite one INSERT that commits by itself,
a registration (the person's document read, changed and saved with its log entry) one
transaction of three statements. The UNIQUE (operation, idempotency key) of the write log makes
each write happen once per key, also when a retry races the first attempt: the INSERT does
nothing on a logged key, and the call is then answered with the first one's result, or refused
with `KeyReused` when its content differs.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from service_tasks.dataset import parse_dataset, read_dataset_file
from service_tasks.errors import KeyReused, TechnicalError
from service_tasks.identifiers import ARC_MAX_LENGTH, ARC_MIN_LENGTH
from service_tasks.interfaces import Registries
from service_tasks.sandbox_registries import sandbox_registries
from service_tasks.sandbox_tables import (
    create_sandbox_engine,
    metadata,
    person_table,
    premises_table,
    transaction,
    write_answer,
    write_table,
)

# The statements of every call, built once with bound parameters: building one costs more
# than running it.
PERSON_DOC = select(person_table.c.doc).where(person_table.c.iin == bindparam("iin"))
PERSON_DOC_FOR_UPDATE = PERSON_DOC.with_for_update()
REGISTERED_COUNT = (
    select(func.count())
    .where(
        or_(
            person_table.c.registration_arc == bindparam("arc"),
            person_table.c.temporary_arc == bindparam("arc"),
        )
    )
    .scalar_subquery()
)
PREMISES_DOC = select(premises_table.c.doc).where(premises_table.c.arc == bindparam("arc"))
PREMISES_DOC_AND_COUNT = PREMISES_DOC.add_columns(REGISTERED_COUNT)
SAVE_PERSON = (
    update(person_table)
    .where(person_table.c.iin == bindparam("person"))
    .values(
        doc=bindparam("doc"),
        registration_arc=bindparam("registration_arc"),
        temporary_arc=bindparam("temporary_arc"),
    )
)
LOGGED_WRITE = select(write_table).where(
    write_table.c.operation == bindparam("operation"),
    write_table.c.idempotency_key == bindparam("idempotency_key"),
)
LOG_COLUMNS = (
    "operation",
    "idempotency_key",
    "application_number",
    "iin",
    "arc",
    "payload",
    "result",
    "created_at",
)
INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _log_statements(dialect: str) -> tuple[Any, Any]:
    """Return the INSERTs of a write log entry that do nothing on a logged key: one plain, one
    only when the person the write is for is known."""
    insert_once = INSERTS[dialect]
    plain = insert_once(write_table)
    for_person = insert_once(write_table).from_select(
        LOG_COLUMNS,
        select(*(bindparam(name, type_=write_table.c[name].type) for name in LOG_COLUMNS)).where(
            exists().where(person_table.c.iin == bindparam("iin"))
        ),
    )
    return tuple(
        statement.on_conflict_do_nothing(
            index_elements=[write_table.c.operation, write_table.c.idempotency_key]
        ).returning(write_table.c.id)
        for statement in (plain, for_person)
    )


class SandboxStore:
    """The sandbox registries' database: load a data set, answer lookups, log writes."""

    def __init__(
        self,
        url: str,
        arc_min_length: int = ARC_MIN_LENGTH,
        arc_max_length: int = ARC_MAX_LENGTH,
    ) -> None:
        self.engine = create_sandbox_engine(url)
        self.log_once, self.log_once_for_person = _log_statements(self.engine.dialect.name)
        self.arc_min_length = arc_min_length
        self.arc_max_length = arc_max_length
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close the store's connections."""
        self.engine.dispose()

    def registries(self) -> Registries:
        """Return the sandbox connector of every registry."""
        return sandbox_registries(self)

    def is_empty(self) -> bool:
        """Tell whether no data set has been loaded yet."""
        with self.engine.connect() as conn:
            return conn.execute(select(person_table.c.iin).limit(1)).first() is None

    def load_dataset(self, doc: dict[str, Any]) -> dict[str, int]:
        """Replace all persons, premises and the write log with a data set; return counts."""
        persons, premises = parse_dataset(doc, self.arc_min_length, self.arc_max_length)
        with transaction(self.engine) as conn:
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
        with transaction(self.engine) as conn:
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
                "result": write_answer(row["operation"], row["id"], row["result"]),
                "created_at": _utc(row["created_at"]).isoformat(),
            }
            for row in rows
        ]

    def person(self, iin: str) -> dict[str, Any] | None:
        """Return a person's document, or None: one statement."""
        with self.engine.connect() as conn:
            return conn.execute(PERSON_DOC, {"iin": iin}).scalar_one_or_none()

    def premises(self, arc: str) -> dict[str, Any] | None:
        """Return a premises' document, or None: one statement."""
        with self.engine.connect() as conn:
            return conn.execute(PREMISES_DOC, {"arc": arc}).scalar_one_or_none()

    def premises_and_count(self, arc: str) -> tuple[dict[str, Any], int] | None:
        """Return a premises' document and how many are registered there, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(PREMISES_DOC_AND_COUNT, {"arc": arc}).one_or_none()
        return None if row is None else (row[0], row[1])

    def write_once(
        self,
        operation: str,
        idempotency_key: str,
        values: dict[str, Any],
        result: dict[str, Any],
        for_known_person: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Log a write that changes nothing else, once per key: one INSERT committing itself.

        `values` are the call's content (application number, IIN, ARC, payload), `result` its
        answer without the id its row number makes. Return the answer and whether it was new.
        With `for_known_person`, the write of an IIN the registry does not know is a fault.
        """
        statement = self.log_once_for_person if for_known_person else self.log_once
        row = _log_row(operation, idempotency_key, values, result)
        with self.engine.connect() as conn:
            row_id = conn.execute(statement, row).scalar_one_or_none()
        if row_id is not None:
            return write_answer(operation, row_id, result), True
        # Nothing inserted: the key is logged, or else the person is unknown.
        unknown = _unknown_person(values["iin"]) if for_known_person else None
        return self._first_answer(operation, idempotency_key, values, unknown), False

    def change_person_once(
        self,
        operation: str,
        idempotency_key: str,
        values: dict[str, Any],
        change: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> tuple[dict[str, Any], bool]:
        """Change a person's document and log the write, once per key, in one transaction.

        The document is read for update, `change` edits it and returns the answer (without its
        row's id) and what it adds to the logged payload; the log entry and the document are
        written in the same transaction. A logged key changes nothing and is answered as before.
        """
        with transaction(self.engine) as conn:
            doc = conn.execute(PERSON_DOC_FOR_UPDATE, {"iin": values["iin"]}).scalar_one_or_none()
            if doc is None:
                raise _unknown_person(values["iin"])
            doc = dict(doc)
            result, added = change(doc)
            logged = {**values, "payload": {**values["payload"], **added}}
            row = _log_row(operation, idempotency_key, logged, result)
            row_id = conn.execute(self.log_once, row).scalar_one_or_none()
            if row_id is not None:
                conn.execute(SAVE_PERSON, _person_row(doc, "person"))
                return write_answer(operation, row_id, result), True
        return self._first_answer(operation, idempotency_key, values), False

    def _first_answer(
        self,
        operation: str,
        idempotency_key: str,
        values: dict[str, Any],
        unlogged: TechnicalError | None = None,
    ) -> dict[str, Any]:
        """Return the answer of the write logged under a key, or refuse other content.

        When no write is logged under the key, raise `unlogged` (a load removed it otherwise).
        """
        key = {"operation": operation, "idempotency_key": idempotency_key}
        with self.engine.connect() as conn:
            first = conn.execute(LOGGED_WRITE, key).mappings().one_or_none()
        if first is None:
            raise unlogged or TechnicalError(
                f"the {operation} under {idempotency_key!r} was removed by a data set load"
            )
        if not _same_content(first, values):
            raise KeyReused(
                f"the registration point holds another {operation} under the idempotency"
                f" key {idempotency_key!r}"
            )
        return write_answer(operation, first["id"], first["result"])


def _unknown_person(iin: str) -> TechnicalError:
    """Return the fault of a write for a person the registry does not know."""
    return TechnicalError(f"the registration point knows no person with IIN {iin}")


def _log_row(
    operation: str, idempotency_key: str, values: dict[str, Any], result: dict[str, Any]
) -> dict[str, Any]:
    """Return the parameters of a write log entry."""
    return {
        "arc": None,
        **values,
        "operation": operation,
        "idempotency_key": idempotency_key,
        "result": result,
        "created_at": datetime.now(UTC),
    }


def _insert_records(conn: Connection, persons: list[dict], premises: list[dict]) -> None:
    """Insert normalised persons and premises."""
    if persons:
        conn.execute(insert(person_table), [_person_row(p) for p in persons])
    if premises:
        conn.execute(insert(premises_table), [{"arc": p["arc"], "doc": p} for p in premises])


def _person_row(doc: dict[str, Any], key: str = "iin") -> dict[str, Any]:
    """Return the table row of a person document, its IIN under `key`."""
    registration = doc.get("registration") or {}
    temporary = doc.get("temporary_registration") or {}
    return {
        key: doc["iin"],
        "doc": doc,
        "registration_arc": registration.get("arc"),
        "temporary_arc": temporary.get("arc"),
    }


def _utc(moment: datetime) -> datetime:
    """Return a stored time in UTC; SQLite hands back naive times, which were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _same_content(logged: Any, values: dict[str, Any]) -> bool:
    """Tell whether a logged write was asked with the content of a new call.

    What a write adds to its log entry while applied (the registration it replaced) is not
    part of what was asked.
    """
    payload = logged["payload"] or {}
    asked = values.get("payload") or {}
    return all(
        logged[column] == values.get(column) for column in ("application_number", "iin", "arc")
    ) and all(payload.get(name) == value for name, value in asked.items())
