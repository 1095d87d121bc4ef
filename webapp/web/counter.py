"""The counter: a clerk starts a service-centre application from the application document."""

import json
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.db.accounts import User
from webapp.runtime.errors import InvalidData, TakenKey

from . import schemaforms, texts
from .auth import role_required
from .database import db, runtime
from .i18n import local_today
from .tasks import DESK_ROLES, bp

# Fields of the application document the counter fills in, or leaves to the runtime.
COUNTER_SETS = ("application_number", "channel", "application_date", "service_centre_id")
# The form's own names for fields of the start data that the counter sets.
FORM_FIELDS = {"service_centre_id": "centre"}


def counter_schema() -> dict[str, Any]:
    """Return the application document's schema, or answer 404 when it is not installed."""
    path = Path(current_app.config["COUNTER_SCHEMA_PATH"])
    if not path.is_file():
        abort(404)
    return json.loads(path.read_text(encoding="utf-8"))


def counter_data(data: dict[str, Any], centre: str | None) -> dict[str, Any]:
    """Return the application data with what the counter sets itself: channel, date and the
    service centre it is made at (when known).

    The application number is left to the runtime, which numbers new applications.
    """
    made = {**data, "channel": "service_centre", "application_date": local_today().isoformat()}
    return made | {"service_centre_id": centre} if centre else made


def counter_centre() -> str | None:
    """Return the centre a counter application is made at.

    A booked visit names its centre (the bookings page passes it on); otherwise the
    application is made where the clerk works, as their account says. The runtime's start
    refuses a centre that does not exist, whichever it is.
    """
    booked = request.form.get("centre")
    if booked:
        return booked
    session = db()
    with session.begin():
        return session.scalar(select(User.centre).where(User.username == current_user.username))


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """Return the runtime's reasons by the counter form's fields: the service centre's is the
    form's `centre`."""
    return {FORM_FIELDS.get(field, field): reason for field, reason in errors.items()}


@bp.route("/counter", methods=["GET", "POST"])
@role_required(*DESK_ROLES)
def counter() -> Any:
    """Start a service-centre application from the application document's form."""
    schema = counter_schema()
    fields = [f for f in schemaforms.form_fields(schema) if f.name not in COUNTER_SETS]
    texts_of = texts.of_process(current_app.config["COUNTER_PROCESS_ID"])
    fields = texts.localised_fields(
        texts_of, fields, schema, Path(current_app.config["COUNTER_SCHEMA_PATH"]).name, None
    )
    if request.method == "GET":
        # A booked visitor's details come prefilled from the bookings page.
        values = schemaforms.display_values(request.args.to_dict(), fields)
        centre = request.args.get("centre", "")
        return render_template(
            "tasks/counter.html", fields=fields, values=values, errors={}, centre=centre
        )
    values = schemaforms.posted_values(request.form, fields)
    data, errors = schemaforms.typed_data(values, fields)
    data = counter_data(data, counter_centre())
    errors = errors or schemaforms.validate(schema, data)
    status = 422
    if not errors:
        try:
            instance = runtime().start(
                current_app.config["COUNTER_PROCESS_ID"], data, current_user.username
            )
        except (InvalidData, TakenKey) as error:
            errors, status = form_errors(error.errors), error.status
    if errors:
        page = render_template(
            "tasks/counter.html",
            fields=fields,
            values=values,
            errors=errors,
            centre=request.form.get("centre", ""),
        )
        return page, status
    number = instance.business_key or instance.id
    if instance.status == "completed":
        # The process answered at once: a refusal, or a channel answer such as "apply online".
        flash(
            _(
                "Application %(number)s ended: %(text)s",
                number=number,
                text=instance.data.get("refusal_text") or instance.data.get("outcome"),
            ),
            "error",
        )
        return redirect(url_for("tasks.task_list"), 303)
    flash(_("Application %(number)s has been started.", number=number), "success")
    # The runtime gives the counter's check to the clerk who started it: open that one.
    ready = sorted(instance.ready_tasks, key=lambda t: t.claimed_by != current_user.username)
    for task in ready:
        if task.claimed_by == current_user.username or task.role in current_user.roles:
            return redirect(url_for("tasks.task_page", task_id=task.id), 303)
    return redirect(url_for("tasks.task_list"), 303)
