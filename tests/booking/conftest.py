"""Fixtures for the booking tests: SQLite and PostgreSQL engines that serialise writes."""

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from webapp.booking import save_centres
from webapp.db.base import Base
from webapp.db.booking import Booking, ServiceCentre

TABLES = [ServiceCentre.__table__, Booking.__table__]
CENTRE = {
    "id": "astana-1",
    "name": "Astana service centre No. 1",
    "address": "Astana, Kenesary street 40",
    "timezone": "Asia/Almaty",
    "desks": 3,
    "opening_hours": {
        day: ["09:00-13:00", "14:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    | {"sat": ["10:00-12:00"]},
}


def sqlite_engine(path) -> Engine:
    """Return an SQLite engine in WAL mode whose transactions all begin IMMEDIATE."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"isolation_level": None})

    @event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@pytest.fixture
def sqlite(tmp_path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path / "booking.db")
    Base.metadata.create_all(engine, tables=TABLES)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres() -> Iterator[Engine]:
    url = os.environ.get("TIRKEU_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TIRKEU_TEST_POSTGRES_URL is not set")
    schema = f"booking_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        Base.metadata.create_all(engine, tables=TABLES)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request) -> Engine:
    """Each database the product runs on."""
    engine = request.getfixturevalue(request.param)
    with Session(engine) as session:
        save_centres(session, [CENTRE])
    return engine


@pytest.fixture
def session(sqlite) -> Iterator[Session]:
    with Session(sqlite) as session:
        save_centres(session, [CENTRE])
        yield session
