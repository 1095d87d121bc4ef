"""Concurrent booking: however requests race, a desk's slot and a person are booked once."""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.booking import BookingError, book
from webapp.db.booking import Booking

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
TEN = datetime(2026, 11, 30, 10, 0)
THREADS = 8


def race(engine, requests) -> list[str]:
    """Run each (person, start) booking in its own thread and session; return the outcomes."""
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def attempt(person: str, start: datetime) -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                outcomes.append(f"desk {book(session, person, 'astana-1', start, NOW).desk}")
            except BookingError as refusal:
                outcomes.append(refusal.reason)

    threads = [threading.Thread(target=attempt, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def active_bookings(engine) -> list[Booking]:
    with Session(engine) as session:
        return list(session.scalars(select(Booking).where(Booking.cancelled_at.is_(None))))


def test_eight_people_racing_for_one_slot_fill_each_desk_exactly_once(engine):
    people = [f"9000000000{n:02d}" for n in range(THREADS)]
    outcomes = race(engine, [(person, TEN) for person in people])
    assert Counter(outcomes) == {"desk 1": 1, "desk 2": 1, "desk 3": 1, "slot_full": 5}
    booked = active_bookings(engine)
    assert sorted(booking.desk for booking in booked) == [1, 2, 3]
    assert len({booking.person_iin for booking in booked}) == 3


def test_one_person_racing_for_eight_slots_gets_exactly_one(engine):
    starts = [TEN + timedelta(minutes=15 * n) for n in range(THREADS)]
    outcomes = race(engine, [("850314304175", start) for start in starts])
    assert Counter(outcomes) == {"desk 1": 1, "person_already_booked": 7}
    assert len(active_bookings(engine)) == 1
