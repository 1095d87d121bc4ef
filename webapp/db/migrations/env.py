"""Alembic environment: runs migrations on the engine handed over in the config attributes."""

from alembic import context

from webapp.db import accounts, analytics, booking, models, online, signing, simulation  # noqa: F401  (registers the tables)
from webapp.db.base import Base

config = context.config


def run_migrations() -> None:
    """Run the migrations online, on the product's engine (offline SQL is not supported)."""
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
