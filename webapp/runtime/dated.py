"""Settings that change on a date: a rule's value and the day it comes into force.

A dated setting is a list of entries `{"value": ..., "from": "YYYY-MM-DD"}`; on a given day the
entry with the latest `from` not after that day is in force. Rules change by law on known dates
(the capital's cap, the November 2025 online-first rule), and an application is judged by the
rules of its own date, so the history stays in the settings rather than being overwritten.
"""

from collections.abc import Mapping
from datetime import date

ENTRY_KEYS = {"value", "from"}


def is_dated(value: object) -> bool:
    """Tell whether a setting's value is a list of dated entries."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(e, Mapping) and set(e) == ENTRY_KEYS for e in value)
    )


def in_force(name: str, entries: list[Mapping], on: str | date) -> object:
    """Return the value of the entry in force on a day; refuse a day before the first entry."""
    day = on.isoformat() if isinstance(on, date) else str(on)[:10]
    started = [e for e in entries if str(e["from"]) <= day]
    if not started:
        first = min(str(e["from"]) for e in entries)
        raise KeyError(f"setting {name!r} has no value in force on {day} (its first is {first})")
    return max(started, key=lambda e: str(e["from"]))["value"]
