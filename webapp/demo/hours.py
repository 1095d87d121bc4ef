"""When people act in the demo month: service centres keep office hours, the portal never closes."""

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Almaty")
OPENS, CLOSES = time(9), time(18)
SUNDAY = 6
# The portal's load by local hour: quiet at night, busiest late morning and evening.
ONLINE_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 13, 12, 11, 11, 11, 10, 10, 10, 11, 12, 11,
                  8, 5, 2)  # fmt: skip


def is_open(moment: datetime) -> bool:
    """Tell whether the service centres are open at a moment (Monday to Saturday, 9 to 18)."""
    local = moment.astimezone(LOCAL)
    return local.weekday() != SUNDAY and OPENS <= local.time() < CLOSES


def next_open(moment: datetime) -> datetime:
    """Return the moment itself when the centres are open, else when they next open."""
    local = moment.astimezone(LOCAL)
    while not is_open(local):
        if local.time() < OPENS and local.weekday() != SUNDAY:
            local = local.replace(hour=OPENS.hour, minute=0, second=0, microsecond=0)
        else:
            local = (local + timedelta(days=1)).replace(hour=OPENS.hour, minute=0, second=0,
                                                        microsecond=0)  # fmt: skip
    return local.astimezone(moment.tzinfo)


def office_hours(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """Return a random moment between start and end when the centres are open."""
    while True:
        moment = start + (end - start) * rng.random()
        if is_open(moment):
            return moment


def online_hours(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """Return a random moment between start and end, as the portal's load by hour spreads it."""
    while True:
        moment = start + (end - start) * rng.random()
        hour = moment.astimezone(LOCAL).hour
        if rng.random() * max(ONLINE_WEIGHTS) < ONLINE_WEIGHTS[hour]:
            return moment
