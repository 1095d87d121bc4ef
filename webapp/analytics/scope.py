"""The instance rows of a dashboard's scope, and the figures that add up over any of them."""

import heapq
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from webapp.db.models import Instance

from .events import EventFigures, as_date, clean
from .sql import seconds_between, summary_values, utc_day

SUMMARY_KEYS = ("channel", "registration_type", "outcome", "refusal_reason")
# How many of the longest finished instances are kept: the breaches the dashboard lists.
LONGEST = 100


def scope_rows(session: Session, condition) -> list[Row]:
    """Return the instance rows matching a condition: id, summary, lead, created, completed.

    `summary` is the text of a JSON array of the SUMMARY_KEYS fields; `lead` (seconds) and
    `completed` are None while running; days are as the database gives them (a date, or ISO
    text on SQLite).
    """
    # Core, not the ORM: these are plain columns, and tens of thousands of them.
    return (
        session.connection()
        .execute(
            select(
                Instance.id,
                summary_values(Instance.summary, SUMMARY_KEYS).label("summary"),
                seconds_between(Instance.created_at, Instance.completed_at).label("lead"),
                utc_day(Instance.created_at).label("created"),
                utc_day(Instance.completed_at).label("completed"),
            ).where(condition)
        )
        .all()
    )


@dataclass
class Figures:
    """The dashboard's figures of some instances; those of two sets add up to their union's.

    Days are ISO texts; `longest` holds the LONGEST finished instances that took longest, as
    (lead seconds, id, summary text).
    """

    summaries: Counter = field(default_factory=Counter)
    leads: dict[str, list[float]] = field(default_factory=dict)
    started_on: Counter = field(default_factory=Counter)
    finished_on: Counter = field(default_factory=Counter)
    longest: list[tuple[float, int, str]] = field(default_factory=list)
    events: EventFigures = field(default_factory=EventFigures)

    def add(self, other: "Figures") -> None:
        """Add another set of instances' figures to these."""
        self.summaries.update(other.summaries)
        for text, values in other.leads.items():
            self.leads.setdefault(text, []).extend(values)
        self.started_on.update(other.started_on)
        self.finished_on.update(other.finished_on)
        self.longest = longest([*self.longest, *other.longest])
        self.events.add(other.events)

    def as_json(self) -> dict:
        """Return the figures as JSON-ready values."""
        return {
            "summaries": dict(self.summaries),
            "leads": self.leads,
            "started_on": dict(self.started_on),
            "finished_on": dict(self.finished_on),
            "longest": self.longest,
            "events": self.events.as_json(),
        }

    @classmethod
    def from_json(cls, value: dict) -> "Figures":
        """Return the figures kept by `as_json`."""
        return cls(
            Counter(value["summaries"]),
            value["leads"],
            Counter(value["started_on"]),
            Counter(value["finished_on"]),
            [tuple(entry) for entry in value["longest"]],
            EventFigures.from_json(value["events"]),
        )


def row_figures(rows: list[Row]) -> Figures:
    """Return the figures the instance rows alone give (no events), counted column by column."""
    if not rows:
        return Figures()
    ids, texts, leads, created, completed = zip(*rows, strict=True)
    ended = [
        (clean(seconds), id_, text)
        for id_, text, seconds in zip(ids, texts, leads, strict=True)
        if seconds is not None
    ]
    finished: dict[str, list[float]] = {}
    for seconds, _, text in ended:
        finished.setdefault(text, []).append(seconds)
    for values in finished.values():
        # Sorted runs: percentiles over several sets sort their concatenation in one pass.
        values.sort()
    ended_on = Counter(completed)
    del ended_on[None]
    return Figures(
        summaries=Counter(texts),
        leads=finished,
        started_on=Counter({as_date(d).isoformat(): n for d, n in Counter(created).items()}),
        finished_on=Counter({as_date(d).isoformat(): n for d, n in ended_on.items()}),
        longest=longest(ended),
    )


def longest(entries) -> list[tuple[float, int, str]]:
    """Return the LONGEST entries that took longest, ties by id."""
    return heapq.nsmallest(LONGEST, entries, key=lambda entry: (-entry[0], entry[1]))
