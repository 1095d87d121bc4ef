"""Online reservation of service-centre visits: 15-minute slots per desk, one booking per person.

What visitors and clerks read names each centre in their language (`language`), as
centres.json gives it; without a language, or for a centre centres.json does not know, the
stored name.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.centres import centre_names
from webapp.db.booking import Booking, ServiceCentre
from webapp.runtime.errors import TirkeuError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class BookingError(TirkeuError):
    """A booking request was refused; `message` says why in plain words, and `details` holds
    the values it names (times, the centre, days) so that a page can say it in its language."""

    status = 422
    reason = "booking_refused"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    @property
    def code(self) -> str:
        """The error code answered to API callers: the refusal's reason."""
        return self.reason


class CentreNotFound(BookingError):
    status = 404
    reason = "centre_not_found"


class CentreInvalid(BookingError):
    reason = "centre_invalid"


class NotASlot(BookingError):
    reason = "not_a_slot"


class SlotInPast(BookingError):
    reason = "slot_in_past"


class SlotTooFarAhead(BookingError):
    reason = "slot_too_far_ahead"


class SlotFull(BookingError):
    status = 409
    reason = "slot_full"


class PersonAlreadyBooked(BookingError):
    status = 409
    reason = "person_already_booked"

    def __init__(self, message: str, booking_id: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.booking_id = booking_id


class BookingNotFound(BookingError):
    status = 404
    reason = "booking_not_found"


class VisitAlreadyStarted(BookingError):
    status = 409
    reason = "visit_already_started"


@dataclass(frozen=True)
class BookingSettings:
    """Booking rules; each is a product setting with the default shown."""

    block_days: int = 10
    horizon_days: int = 14

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> "BookingSettings":
        """Read `booking_block_days` and `booking_horizon_days`, defaulting each one missing."""
        settings = settings or {}
        return cls(
            block_days=int(settings.get("booking_block_days", cls.block_days)),
            horizon_days=int(settings.get("booking_horizon_days", cls.horizon_days)),
        )


@dataclass(frozen=True)
class Centre:
    """A service centre as visitors see it."""

    id: str
    name: str
    address: str
    timezone: str
    desks: int
    slot_minutes: int
    opening_hours: Mapping[str, list[str]]


@dataclass(frozen=True)
class Slot:
    """A bookable time at a centre, in the centre's local time, with its free desks."""

    centre_id: str
    start: datetime
    end: datetime
    free_desks: int


@dataclass(frozen=True)
class Reservation:
    """A booked visit; times of the visit are in the centre's local time."""

    id: int
    centre_id: str
    centre_name: str
    person_iin: str
    start: datetime
    end: datetime
    desk: int
    application_number: str | None
    created_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None


def _utc(moment: datetime) -> datetime:
    """Return an aware UTC time; naive values are UTC as SQLite hands them back."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _name(centre: ServiceCentre, language: str | None) -> str:
    """Return the centre's name in the language, else its stored name."""
    if language is None:
        return centre.name
    return centre_names(language).get(centre.id, centre.name)


def _centre(row: ServiceCentre, language: str | None = None) -> Centre:
    """Return the plain view of a centre row, named in the language."""
    return Centre(
        id=row.id,
        name=_name(row, language),
        address=row.address,
        timezone=row.timezone,
        desks=row.desks,
        slot_minutes=row.slot_minutes,
        opening_hours=dict(row.opening_hours),
    )


def _reservation(row: Booking, centre: ServiceCentre, language: str | None = None) -> Reservation:
    """Return the plain view of a booking row, its visit in the centre's local time and its
    centre named in the language."""
    zone = ZoneInfo(centre.timezone)
    start = _utc(row.start).astimezone(zone)
    return Reservation(
        id=row.id,
        centre_id=row.centre_id,
        centre_name=_name(centre, language),
        person_iin=row.person_iin,
        start=start,
        end=start + timedelta(minutes=centre.slot_minutes),
        desk=row.desk,
        application_number=row.application_number,
        created_at=_utc(row.created_at),
        cancelled_at=_utc(row.cancelled_at) if row.cancelled_at else None,
        cancel_reason=row.cancel_reason,
    )


def _checked_centre(record: Mapping[str, Any]) -> ServiceCentre:
    """Build a centre row from a settings record, refusing one that cannot give slots."""
    name = record.get("id", "?")
    try:
        row = ServiceCentre(
            id=str(record["id"]),
            name=str(record["name"]),
            address=str(record.get("address", "")),
            timezone=str(record.get("timezone", "Asia/Almaty")),
            desks=int(record["desks"]),
            slot_minutes=int(record.get("slot_minutes", 15)),
            opening_hours={day: list(spans) for day, spans in record["opening_hours"].items()},
        )
        ZoneInfo(row.timezone)
    except (KeyError, TypeError, ValueError, AttributeError, ZoneInfoNotFoundError) as exc:
        raise CentreInvalid(f"Service centre {name}: missing or wrong field ({exc}).") from exc
    if row.desks < 1 or row.slot_minutes < 5:
        raise CentreInvalid(f"Service centre {name}: needs at least one desk and 5-minute slots.")
    for day, spans in row.opening_hours.items():
        if day not in WEEKDAYS:
            raise CentreInvalid(f"Service centre {name}: {day!r} is not one of {WEEKDAYS}.")
        previous_end = 0
        for span in spans:
            opens, closes = _span(span, name)
            if opens < previous_end or closes <= opens:
                raise CentreInvalid(
                    f"Service centre {name}: {day} hours must be increasing, not {spans}."
                )
            previous_end = closes
    return row


def _span(span: str, centre_id: str) -> tuple[int, int]:
    """Read one opening interval `HH:MM-HH:MM` as minutes after midnight; `24:00` is midnight."""
    match = _INTERVAL.match(str(span))
    if not match:
        raise CentreInvalid(f"Service centre {centre_id}: {span!r} is not like 09:00-18:00.")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    opens, closes = h1 * 60 + m1, h2 * 60 + m2
    if closes > 24 * 60:
        raise CentreInvalid(f"Service centre {centre_id}: {span!r} is not a time of day.")
    return opens, closes


def save_centres(session: Session, records: Iterable[Mapping[str, Any]]) -> list[Centre]:
    """Create or update service centres from records like `{"id", "name", "desks", ...}`.

    A record has `id`, `name`, `desks`, `opening_hours` (`{"mon": ["09:00-13:00",
    "14:00-18:00"], ...}`, a missing day is closed) and optionally `address`, `timezone`
    (default Asia/Almaty) and `slot_minutes` (default 15).
    """
    rows = [_checked_centre(record) for record in records]
    saved = [session.merge(row) for row in rows]
    session.commit()
    return [_centre(row) for row in saved]


def list_centres(session: Session, language: str | None = None) -> list[Centre]:
    """Return every service centre, in the order of their stored names, named in the language."""
    rows = session.scalars(select(ServiceCentre).order_by(ServiceCentre.name))
    return [_centre(row, language) for row in rows]


def _load_centre(session: Session, centre_id: str) -> ServiceCentre:
    """Return the centre row or refuse an unknown centre."""
    row = session.get(ServiceCentre, centre_id)
    if row is None:
        raise CentreNotFound(f"There is no service centre {centre_id!r}.", centre=centre_id)
    return row


def _slot_starts(centre: ServiceCentre, day: date) -> list[datetime]:
    """Return the local start times of the centre's slots on that day."""
    midnight = datetime.combine(day, time.min, tzinfo=ZoneInfo(centre.timezone))
    starts = []
    for span in centre.opening_hours.get(WEEKDAYS[day.weekday()], []):
        opens, closes = _span(span, centre.id)
        starts += [
            midnight + timedelta(minutes=minute)
            for minute in range(opens, closes - centre.slot_minutes + 1, centre.slot_minutes)
        ]
    return starts


def _day_bounds(centre: ServiceCentre, day: date) -> tuple[datetime, datetime]:
    """Return the UTC instants at which the centre's local day begins and ends."""
    zone = ZoneInfo(centre.timezone)
    begin = datetime.combine(day, time.min, tzinfo=zone)
    return begin.astimezone(UTC), (begin + timedelta(days=1)).astimezone(UTC)


def available_slots(
    session: Session,
    centre_id: str,
    day: date,
    *,
    now: datetime | None = None,
    settings: Mapping[str, Any] | None = None,
) -> list[Slot]:
    """Return the slots of that local day with a free desk; given `now`, only bookable ones."""
    centre = _load_centre(session, centre_id)
    begin, end = _day_bounds(centre, day)
    taken = dict(
        session.execute(
            select(Booking.start, func.count())
            .where(
                Booking.centre_id == centre_id,
                Booking.cancelled_at.is_(None),
                Booking.start >= begin,
                Booking.start < end,
            )
            .group_by(Booking.start)
        ).all()
    )
    taken = {_utc(start): count for start, count in taken.items()}
    horizon = BookingSettings.from_mapping(settings).horizon_days
    length = timedelta(minutes=centre.slot_minutes)
    slots = []
    for start in _slot_starts(centre, day):
        moment = start.astimezone(UTC)
        if now is not None and not _utc(now) < moment <= _utc(now) + timedelta(days=horizon):
            continue
        free = centre.desks - taken.get(moment, 0)
        if free > 0:
            slots.append(Slot(centre_id, start, start + length, free))
    return slots


def _blocking(session: Session, person_iin: str) -> Booking | None:
    """Return the booking that currently blocks the person, if any."""
    return session.scalar(
        select(Booking).where(Booking.person_iin == person_iin, Booking.released_at.is_(None))
    )


def _refuse_second_booking(
    session: Session, blocking: Booking, block_days: int, language: str | None
) -> NoReturn:
    """Refuse a booking while another one blocks the person, saying until when, the centre
    named in the language."""
    centre = _load_centre(session, blocking.centre_id)
    held = _reservation(blocking, centre, language)
    until = held.created_at + timedelta(days=block_days)
    local_until = until.astimezone(held.start.tzinfo)
    session.rollback()
    raise PersonAlreadyBooked(
        f"You already have a booking at {held.centre_name} on {held.start:%Y-%m-%d %H:%M}. "
        f"One booking is allowed per {block_days} days: cancel it to book another time, or "
        f"book again after {local_until:%Y-%m-%d %H:%M}.",
        booking_id=held.id,
        until=until,
        centre=held.centre_name,
        start=held.start,
        days=block_days,
    )


# A slot is held by the unique index on (centre, start, desk) among bookings not cancelled: when
# two requests race for a desk, the loser's insert fails there and it tries the next free desk.
# Like every writing function here, booking is one transaction that it commits itself.
def book(
    session: Session,
    person_iin: str,
    centre_id: str,
    start: datetime,
    now: datetime,
    *,
    application_number: str | None = None,
    settings: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> Reservation:
    """Book the slot starting at `start` (naive means the centre's local time) at a free desk;
    the reservation names the centre in the language."""
    rules = BookingSettings.from_mapping(settings)
    now = _utc(now)
    centre = _load_centre(session, centre_id)
    zone = ZoneInfo(centre.timezone)
    local = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    if local not in _slot_starts(centre, local.date()):
        name = _name(centre, language)
        raise NotASlot(
            f"{local:%Y-%m-%d %H:%M} is not a visiting time at {name}: choose a slot from the "
            "list.",
            start=local,
            centre=name,
        )
    moment = local.astimezone(UTC)
    if moment <= now:
        raise SlotInPast("That time has already passed: choose a later slot.")
    if moment > now + timedelta(days=rules.horizon_days):
        raise SlotTooFarAhead(
            f"Visits can be booked at most {rules.horizon_days} days ahead.",
            days=rules.horizon_days,
        )

    session.execute(
        update(Booking)
        .where(
            Booking.person_iin == person_iin,
            Booking.released_at.is_(None),
            Booking.created_at <= now - timedelta(days=rules.block_days),
        )
        .values(released_at=now)
    )
    blocking = _blocking(session, person_iin)
    if blocking is not None:
        _refuse_second_booking(session, blocking, rules.block_days, language)
    taken = set(
        session.scalars(
            select(Booking.desk).where(
                Booking.centre_id == centre_id,
                Booking.start == moment,
                Booking.cancelled_at.is_(None),
            )
        )
    )
    for desk in range(1, centre.desks + 1):
        if desk in taken:
            continue
        row = Booking(
            centre_id=centre_id,
            start=moment,
            desk=desk,
            person_iin=person_iin,
            application_number=application_number,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            blocking = _blocking(session, person_iin)
            if blocking is not None:
                _refuse_second_booking(session, blocking, rules.block_days, language)
            continue
        reservation = _reservation(row, centre, language)
        session.commit()
        return reservation
    session.commit()
    raise SlotFull(f"Every desk at {local:%H:%M} is taken: choose another slot.", start=local)


def cancel(
    session: Session,
    booking_id: int,
    *,
    person_iin: str | None,
    now: datetime,
    reason: str,
) -> Reservation:
    """Cancel a booking before its visit, freeing its slot and its person.

    Given `person_iin`, only that person's own booking is found (staff pass None). Cancelling a
    cancelled booking changes nothing.
    """
    now = _utc(now)
    row = session.get(Booking, booking_id, populate_existing=True)
    if row is None or (person_iin is not None and row.person_iin != person_iin):
        raise BookingNotFound("There is no such booking.")
    centre = _load_centre(session, row.centre_id)
    if row.cancelled_at is None:
        if _utc(row.start) <= now:
            raise VisitAlreadyStarted(
                "The visit time has come; the booking can no longer be cancelled."
            )
        row.cancelled_at = now
        row.cancel_reason = reason
        row.released_at = row.released_at or now
        session.flush()
    reservation = _reservation(row, centre)
    session.commit()
    return reservation


def bookings_for(
    session: Session, centre_id: str, day: date, language: str | None = None
) -> list[Reservation]:
    """Return the centre's bookings for that local day that are not cancelled, by time and desk,
    the centre named in the language."""
    centre = _load_centre(session, centre_id)
    begin, end = _day_bounds(centre, day)
    rows = session.scalars(
        select(Booking)
        .where(
            Booking.centre_id == centre_id,
            Booking.cancelled_at.is_(None),
            Booking.start >= begin,
            Booking.start < end,
        )
        .order_by(Booking.start, Booking.desk)
    )
    return [_reservation(row, centre, language) for row in rows]


def bookings_of(
    session: Session, person_iin: str, language: str | None = None
) -> list[Reservation]:
    """Return all of a person's bookings, cancelled ones too, newest first, each centre named
    in the language."""
    rows = session.execute(
        select(Booking, ServiceCentre)
        .join(ServiceCentre, ServiceCentre.id == Booking.centre_id)
        .where(Booking.person_iin == person_iin)
        .order_by(Booking.created_at.desc(), Booking.id.desc())
    )
    return [_reservation(booking, centre, language) for booking, centre in rows]
