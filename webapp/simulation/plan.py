"""A staffing plan: clerks per pool (a lane, or a lane at a service centre) and local hour.

The plan is a JSON object whose keys name pools: a lane (`"Clerk"`, its clerks for tasks of no
centre, i.e. online applications) or a lane at a centre of centres.json (`"Clerk@AST-YESIL"`).
Each value is a count for every hour, 168 hourly counts, `{"default": N, "hours": {"33": N}}`,
or shifts: `[{"days": "mon-fri", "hours": "09:00-13:00", "clerks": 3}, ...]` (local Almaty
hours; hours outside every shift have nobody; where shifts overlap, their clerks add up).
"""

import json
import re
from pathlib import Path

from webapp.centres import centre_problem
from webapp.runtime.errors import InvalidData

from .staffing import HOURS_PER_WEEK

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"^(\d\d):00-(\d\d):00$")


def refused(field: str, reason: str) -> InvalidData:
    """Return the error refusing one field of a simulation request."""
    return InvalidData(f"{field}: {reason}", {field: reason})


def read_staffing(path: Path) -> dict[str, list[int]]:
    """Read a staffing plan file; see the module's docstring for its forms."""
    try:
        text = path.read_text()
    except OSError as error:
        raise refused("staffing", f"{path.name} is not a readable file: {error}") from error
    return parse_staffing(text)


def parse_staffing(text: str) -> dict[str, list[int]]:
    """Return the hourly clerk counts per pool of a staffing plan's JSON text."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise refused("staffing", f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise refused("staffing", "the plan must be a JSON object of lanes")
    plans = {}
    for pool, value in document.items():
        lane, _at, centre = str(pool).partition("@")
        if _at and (problem := centre_problem(centre)):
            raise refused("staffing", f"pool {pool!r}: {problem}")
        if not lane:
            raise refused("staffing", f"pool {pool!r} names no lane")
        plans[str(pool)] = _plan(str(pool), value)
    return plans


def _plan(pool: str, value) -> list[int]:
    """Return 168 hourly clerk counts from one pool's entry of a staffing plan."""
    if _count(value):
        return [value] * HOURS_PER_WEEK
    if isinstance(value, list) and value and all(isinstance(s, dict) for s in value):
        return _shifts(pool, value)
    if isinstance(value, list) and len(value) == HOURS_PER_WEEK and all(map(_count, value)):
        return list(value)
    if isinstance(value, dict) and _count(value.get("default", 0)):
        plan = [int(value.get("default", 0))] * HOURS_PER_WEEK
        for hour, n in (value.get("hours") or {}).items():
            if not (str(hour).isdigit() and int(hour) < HOURS_PER_WEEK and _count(n)):
                raise refused("staffing", f"lane {pool!r}: hour {hour!r} is not 0-167")
            plan[int(hour)] = n
        return plan
    raise refused(
        "staffing", f"lane {pool!r} needs a count, 168 hourly counts, default+hours or shifts"
    )


def _count(value) -> bool:
    """Tell whether a value is a count of clerks."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shifts(pool: str, shifts: list[dict]) -> list[int]:
    """Return 168 hourly clerk counts from a pool's shifts, refusing a shift's bad field."""
    plan = [0] * HOURS_PER_WEEK
    for number, shift in enumerate(shifts, 1):
        where = f"pool {pool!r} shift {number}"
        days = _days(str(shift.get("days", "")))
        if days is None:
            raise refused("staffing", f"{where}: days {shift.get('days')!r} is not like mon-fri")
        found = HOURS.match(str(shift.get("hours", "")))
        start, end = (int(found[1]), int(found[2])) if found else (0, 0)
        if not (found and start < end <= 24):
            raise refused(
                "staffing", f"{where}: hours {shift.get('hours')!r} is not like 09:00-13:00"
            )
        if not _count(shift.get("clerks")):
            raise refused("staffing", f"{where}: clerks {shift.get('clerks')!r} is not a count")
        for day in days:
            for hour in range(start, end):
                plan[day * 24 + hour] += shift["clerks"]
    return plan


def _days(text: str) -> list[int] | None:
    """Return the days of the week (Monday 0) of "mon-fri", "sat" or "mon,wed"; None if bad."""
    days: list[int] = []
    for part in text.lower().split(","):
        first, _dash, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            return None
        a, b = DAYS.index(first), DAYS.index(last or first)
        if b < a:
            return None
        days += range(a, b + 1)
    return sorted(set(days))


def merged(learned: dict[str, list[int]], plan: dict[str, list[int]] | None) -> dict:
    """Return the staffing a run uses: the learned pools, each pool the plan names replaced.

    A plan's lane alone (`"Clerk"`) also replaces the learned pools of that lane at every
    centre the plan does not name: their tasks queue for the lane's clerks.
    """
    if not plan:
        return learned
    lanes = {pool for pool in plan if "@" not in pool}
    kept = {
        pool: hours
        for pool, hours in learned.items()
        if pool not in plan and pool.partition("@")[0] not in lanes
    }
    return kept | plan
