"""When each pool of clerks is at work, in local hours of the week (Asia/Almaty), learned from
the log.

A pool is a lane's people at one service centre (`Clerk@AST-YESIL`: the tasks of applications
made at that centre's counter), or the lane's people for tasks of no centre (`Clerk`: online
applications). A pool's clerks per hour of the week are the most of its tasks held at once in
that hour, over the weeks of the period; a task is picked up only in the hours of the week
the log shows it picked up in (see `learn_staffing`). Waiting for a clerk is measured in those
hours only, so a task that came at night and was claimed at nine waited what a daytime task
waits.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Almaty")
HOURS_PER_WEEK = 168
HOUR = 3600.0
WEEK = HOURS_PER_WEEK * HOUR


@dataclass(frozen=True)
class Claim:
    """One completed task of a staffed lane: when it came, was claimed and was completed."""

    lane: str
    bpmn_id: str
    centre: str | None
    created: datetime
    claimed: datetime
    completed: datetime


def pool_of(lane: str, centre: str | None) -> str:
    """Return the name of the pool that works a lane's tasks at a centre (or of no centre)."""
    return f"{lane}@{centre}" if centre else lane


def hour_of_week(at: datetime) -> int:
    """Return the local hour of the week of a time, Monday 00:00 in Almaty being 0."""
    local = at.astimezone(LOCAL)
    return local.weekday() * 24 + local.hour


def week_seconds(at: datetime) -> float:
    """Return the seconds from the local Monday 00:00 before a time to the time."""
    local = at.astimezone(LOCAL)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.weekday() * 24 * HOUR + (local - midnight).total_seconds()


def learn_staffing(claims: list[Claim]) -> tuple[dict[str, list[int]], dict[str, list[bool]]]:
    """Return each pool's clerks per hour of the week and each task's (and lane's) pick-up hours.

    A task is picked up on the days of the week its claims show, from the earliest to the
    latest hour of the day they show: a month holds too few claims of a rare task to fill
    every hour it could have been picked up in. Pick-up hours are keyed by BPMN id, and by
    lane (every task of it) for a task the log has not seen. A pool has at least one clerk in
    every hour one of its tasks is picked up in.
    """
    hours = _pick_up_hours(claims, lambda c: (c.bpmn_id, c.lane))
    # A pool's own hours: the lane's key in `hours` holds every centre's claims of the lane.
    pools = _pick_up_hours(claims, lambda c: (pool_of(c.lane, c.centre),))
    plans = {}
    for pool in pools:
        plan = [int(on) for on in pools[pool]]
        mine = [c for c in claims if pool_of(c.lane, c.centre) == pool]
        changes = [(c.claimed, 1) for c in mine] + [(max(c.completed, c.claimed), -1) for c in mine]
        count = 0
        # Ends before starts at the same moment: a clerk who completes and claims holds one.
        for at, change in sorted(changes, key=lambda c: (c[0], c[1])):
            slot = hour_of_week(at)
            plan[slot] = max(plan[slot], count + max(change, 0))
            count += change
        plans[pool] = plan
    return plans, hours


def _pick_up_hours(claims: list[Claim], keys) -> dict[str, list[bool]]:
    """Return the pick-up hours of the week of each key the claims give (see `learn_staffing`)."""
    days: dict[str, set[int]] = defaultdict(set)
    hours_of_day: dict[str, set[int]] = defaultdict(set)
    for claim in claims:
        at = hour_of_week(claim.claimed)
        for key in keys(claim):
            days[key].add(at // 24)
            hours_of_day[key].add(at % 24)
    return {
        key: [
            h // 24 in days[key] and min(hours_of_day[key]) <= h % 24 <= max(hours_of_day[key])
            for h in range(HOURS_PER_WEEK)
        ]
        for key in days
    }


def on_duty(start: datetime, end: datetime, hours: list[bool]) -> float:
    """Return the seconds between two times that fall in the given hours of the week."""
    total, at = 0.0, start
    while at < end:
        boundary = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if hours[hour_of_week(at)]:
            total += (min(boundary, end) - at).total_seconds()
        at = boundary
    return total


def until_on_duty(now: float, seconds: float, hours: list[bool]) -> float:
    """Return how long from `now` (seconds into the simulated weeks) until `seconds` of the
    given hours of the week have passed; plain `seconds` if no hour is on duty."""
    if not any(hours):
        return seconds
    at, left = now, seconds
    while True:
        boundary = (math.floor(at / HOUR) + 1) * HOUR
        if hours[int(at // HOUR) % HOURS_PER_WEEK]:
            if left <= boundary - at:
                return at + left - now
            left -= boundary - at
        at = boundary
