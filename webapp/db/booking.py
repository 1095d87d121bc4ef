"""Tables of the visit booking: service centres and the 15-minute slots booked at their desks."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db.base import Base


class ServiceCentre(Base):
    """A service centre: where it is, how many desks serve visitors, and when it is open."""

    __tablename__ = "service_centre"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Almaty")
    desks: Mapped[int]
    slot_minutes: Mapped[int] = mapped_column(default=15)
    # weekday ("mon".."sun") -> ["09:00-13:00", "14:00-18:00"]; a missing day is closed
    opening_hours: Mapped[dict]

    __table_args__ = (
        CheckConstraint("desks >= 1", name="desks_positive"),
        CheckConstraint("slot_minutes >= 5", name="slot_minutes_sane"),
    )


class Booking(Base):
    """One person's visit booked at one desk of a centre; cancelled rows stay as history."""

    __tablename__ = "booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[str] = mapped_column(ForeignKey("service_centre.id"))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    desk: Mapped[int]
    person_iin: Mapped[str] = mapped_column(String(12))
    application_number: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    # Set when the booking stops blocking its person: on cancellation, or once the blocking
    # period after booking has passed (noticed at that person's next booking).
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # A desk's slot is held by one booking that is not cancelled: concurrent requests for
        # the same desk collide here and the loser moves on to the next desk.
        Index(
            "uq_booking_active_slot",
            "centre_id",
            "start",
            "desk",
            unique=True,
            sqlite_where=text("cancelled_at IS NULL"),
            postgresql_where=text("cancelled_at IS NULL"),
        ),
        # One booking at a time blocks a person, whatever the centre.
        Index(
            "uq_booking_person_blocking",
            "person_iin",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
        Index(None, "person_iin", "created_at"),
        CheckConstraint("desk >= 1", name="desk_positive"),
    )
