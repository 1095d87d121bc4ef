"""The receipt a clerk prints for the citizen once the registration is entered.

It is printed in the language the citizen chooses, whatever the clerk's own, and shows what
the registration point recorded: the service's official name, the person, the address, the
kind and period, the registration number and the date.
"""

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import force_locale, get_locale

from webapp.runtime.errors import NotFound

from .auth import personal_view, role_required
from .database import runtime
from .i18n import LANGUAGES

bp = Blueprint("receipts", __name__, url_prefix="/receipts")
RECEIPT_ROLES = ("clerk", "supervisor")
ADDRESS_PARTS = ("region", "district", "settlement", "street", "building", "block", "flat")


def address_line(address: Any) -> str:
    """Return an address record as one line: region to flat, then the postcode."""
    if not isinstance(address, dict):
        return str(address or "")
    parts = [str(address[k]) for k in ADDRESS_PARTS if address.get(k)]
    if address.get("postcode"):
        parts.append(str(address["postcode"]))
    return ", ".join(parts)


def completed_at(events: tuple) -> datetime | None:
    """Return when the instance completed, from its events."""
    return next((e.at for e in reversed(events) if e.kind == "instance_completed"), None)


@bp.get("/<int:instance_id>")
@role_required(*RECEIPT_ROLES)
def receipt(instance_id: int) -> Any:
    """Show the printable receipt of a completed registration, in the language asked for."""
    try:
        instance = personal_view().instance(runtime().instance(instance_id))
    except NotFound:
        abort(404)
    data = instance.data
    if instance.status != "completed" or not data.get("registration_id"):
        abort(404)
    language = request.args.get("lang", str(get_locale()))
    if language not in LANGUAGES:
        abort(400, description="lang must be one of " + ", ".join(LANGUAGES))
    with force_locale(language):
        return render_template(
            "receipts/receipt.html",
            instance=instance,
            data=data,
            address=address_line((data.get("premises") or {}).get("address")),
            registered_at=completed_at(instance.events),
            language=language,
        )
