"""Fixtures for the signing tests: a fresh database file, a CA and people's certificates."""

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from webapp.db.base import Base
from webapp.db.signing import SigningCode
from webapp.signing import DemoCA, PersonCredentials, issue_person_certificate, make_demo_ca


@pytest.fixture
def session(tmp_path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'signing.db'}")
    Base.metadata.create_all(engine, tables=[SigningCode.__table__])
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def ca() -> DemoCA:
    return make_demo_ca()


@pytest.fixture(scope="module")
def applicant(ca) -> PersonCredentials:
    return issue_person_certificate(ca, "850314304175", "ABENOV ARMAN")


@pytest.fixture(scope="module")
def owner(ca) -> PersonCredentials:
    return issue_person_certificate(ca, "621102401239", "SEITOVA AIGUL")
