"""The migrations build exactly the schema the models describe, on each database."""

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import SAWarning

from webapp.db import accounts, analytics, models, simulation  # noqa: F401  (registers every table)
from webapp.db.base import Base
from webapp.db.session import make_engine, upgrade


def test_the_migrations_build_the_schema_the_models_describe(empty_database_url):
    engine = make_engine(empty_database_url)
    upgrade(engine)
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite's reflection cannot read indexes on expressions (the summary's IINs) back:
        # they are compared on PostgreSQL, and the cockpit's tests check that they serve.
        warnings.filterwarnings("ignore", ".*expression-based index", SAWarning)
        warnings.filterwarnings("ignore", ".*expression-based index", UserWarning)
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
