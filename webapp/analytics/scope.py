"""The instance rows of a dashboard's scope, read in one pass and shared by its figures."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Instance

from .sql import seconds_between, summary_values, utc_day

SUMMARY_KEYS = ("channel", "registration_type", "outcome", "refusal_reason")


@dataclass(frozen=True)
class ScopeRows:
    """The scope's instances column by column; `lead` and `completed` are None while running.

    `summary` is the text of a JSON array of the SUMMARY_KEYS fields; days are as the database
    gives them (a date, or ISO text on SQLite).
    """

    ids: tuple[int, ...]
    summary: tuple[str, ...]
    lead: tuple[float | None, ...]
    created: tuple
    completed: tuple


def scope_rows(session: Session, in_scope) -> ScopeRows:
    """Return the instance rows matching the scope's condition."""
    # Core, not the ORM: these are plain columns, and tens of thousands of them.
    rows = (
        session.connection()
        .execute(
            select(
                Instance.id,
                summary_values(Instance.summary, SUMMARY_KEYS),
                seconds_between(Instance.created_at, Instance.completed_at),
                utc_day(Instance.created_at),
                utc_day(Instance.completed_at),
            ).where(in_scope)
        )
        .all()
    )
    return ScopeRows(*(zip(*rows, strict=True) if rows else ((),) * 5))
