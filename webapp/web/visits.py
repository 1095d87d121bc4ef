"""Online reservation of a service-centre visit, and the clerk's list of today's bookings."""

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp.booking import (
    BookingError,
    BookingSettings,
    available_slots,
    book,
    bookings_for,
    bookings_of,
    cancel,
    list_centres,
)
from webapp.db.base import utcnow

from .auth import role_required
from .database import db
from .i18n import local_time, local_today
from .texts import language

bp = Blueprint("visits", __name__, url_prefix="/visits")
DESK_ROLES = ("clerk", "supervisor")
# What each refusal of the booking service says, by its reason; the values it names are the
# error's details.
BOOKING_REFUSALS = {
    "centre_not_found": _l("There is no service centre %(centre)s."),
    "not_a_slot": _l(
        "%(start)s is not a visiting time at %(centre)s: choose a slot from the list."
    ),
    "slot_in_past": _l("That time has already passed: choose a later slot."),
    "slot_too_far_ahead": _l("Visits can be booked at most %(days)s days ahead."),
    "slot_full": _l("Every desk at %(start)s is taken: choose another slot."),
    "person_already_booked": _l(
        "You already have a booking at %(centre)s on %(start)s. One booking is allowed per "
        "%(days)s days: cancel it to book another time, or book again after %(until)s."
    ),
    "booking_not_found": _l("There is no such booking."),
    "visit_already_started": _l("The visit time has come; the booking can no longer be cancelled."),
}


def refusal(error: BookingError) -> str:
    """Return why booking or cancelling was refused in the reader's language, its times written
    as the pages write them; a refusal without a text of ours keeps its own message."""
    text = BOOKING_REFUSALS.get(error.reason)
    if text is None:
        return error.message
    values = {
        name: local_time(value) if isinstance(value, datetime) else value
        for name, value in error.details.items()
    }
    return str(text) % values


def visitor_iin() -> str:
    """Return the signed-in applicant's IIN; an account without one may not book."""
    if not current_user.iin:
        abort(403)
    return current_user.iin


def chosen_day(text: str | None, default: date) -> date:
    """Return the day asked for in the query, or the default when there is none or it is wrong."""
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


@bp.get("/")
@role_required("applicant")
def index() -> Any:
    """Show the centres, the free slots of the chosen centre and day, and the own bookings."""
    iin = visitor_iin()
    centres = list_centres(db(), language())
    centre_id = request.args.get("centre") or (centres[0].id if centres else None)
    today = local_today()
    horizon = BookingSettings.from_mapping(current_app.config.get("BOOKING")).horizon_days
    days = [today + timedelta(days=n) for n in range(horizon + 1)]
    asked = request.args.get("day")
    day = chosen_day(asked, today)
    slots = []
    if centre_id:
        # Without a chosen day, show the first day that still has a free slot.
        for candidate in [day] if asked else days:
            try:
                slots = available_slots(
                    db(),
                    centre_id,
                    candidate,
                    now=utcnow(),
                    settings=current_app.config.get("BOOKING"),
                )
            except BookingError as error:
                flash(refusal(error), "error")
                break
            day = candidate
            if slots:
                break
    return render_template(
        "portal/visits.html",
        centres=centres,
        centre_id=centre_id,
        days=days,
        day=day,
        slots=slots,
        bookings=bookings_of(db(), iin, language()),
        now=utcnow(),
    )


@bp.post("/book")
@role_required("applicant")
def reserve() -> Any:
    """Book the chosen slot."""
    iin = visitor_iin()
    centre_id = request.form.get("centre", "")
    try:
        start = datetime.fromisoformat(request.form.get("start", ""))
        reservation = book(
            db(),
            iin,
            centre_id,
            start,
            utcnow(),
            settings=current_app.config.get("BOOKING"),
            language=language(),
        )
    except ValueError:
        flash(_("Choose a slot from the list."), "error")
        return redirect(url_for("visits.index", centre=centre_id), 303)
    except BookingError as error:
        flash(refusal(error), "error")
        return redirect(url_for("visits.index", centre=centre_id), 303)
    flash(
        _(
            "Your visit is booked: %(centre)s, %(time)s, desk %(desk)s.",
            centre=reservation.centre_name,
            time=local_time(reservation.start),
            desk=reservation.desk,
        ),
        "success",
    )
    return redirect(url_for("visits.index", centre=centre_id), 303)


@bp.post("/<int:booking_id>/cancel")
@role_required("applicant")
def cancel_booking(booking_id: int) -> Any:
    """Cancel one of the applicant's own bookings."""
    try:
        cancel(db(), booking_id, person_iin=visitor_iin(), now=utcnow(), reason="by_applicant")
    except BookingError as error:
        flash(refusal(error), "error")
        return redirect(url_for("visits.index"), 303)
    flash(_("The booking is cancelled; you can book another time."), "success")
    return redirect(url_for("visits.index"), 303)


@bp.get("/desk")
@role_required(*DESK_ROLES)
def desk() -> Any:
    """Show today's booked visitors of a centre, each with a prefilled counter application."""
    centres = list_centres(db(), language())
    centre_id = request.args.get("centre") or (centres[0].id if centres else None)
    bookings = bookings_for(db(), centre_id, local_today(), language()) if centre_id else []
    return render_template(
        "portal/desk.html", centres=centres, centre_id=centre_id, bookings=bookings
    )
