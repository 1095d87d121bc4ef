"""The migrations build exactly the schema the models describe, on each database."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webapp.db import accounts, analytics, models  # noqa: F401  (registers every table)
from webapp.db.base import Base
from webapp.db.session import make_engine, upgrade


def test_the_migrations_build_the_schema_the_models_describe(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
