"""The process owner's "Simulate": a candidate version beside the one that ran, over a period."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from webapp.runtime.errors import InvalidData
from webapp.simulation.report import Request, compare

from . import process_catalogue as catalogue
from .auth import role_required
from .database import db, runtime

bp = Blueprint("simulation", __name__, url_prefix="/processes")
ROLES = ("process_owner", "administrator")
MAX_RUNS = 10


@bp.route("/<process_id>/<int:number>/simulate", methods=["GET", "POST"])
@role_required(*ROLES)
def simulate(process_id: str, number: int) -> Any:
    """Show the simulation form; on POST, simulate and show both versions side by side."""
    session = db()
    with session.begin():
        row = catalogue.version(session, process_id, number)
    today = datetime.now(UTC).date()
    values = {
        "from": request.form.get("from", (today - timedelta(days=30)).isoformat()),
        "to": request.form.get("to", today.isoformat()),
        "runs": request.form.get("runs", "5"),
    }
    if request.method == "GET":
        return render_template("simulation/simulate.html", row=row, values=values, result=None)
    parsed = _parse(values)
    the_runtime = runtime()
    with the_runtime.transaction() as work:
        result = compare(the_runtime, work, Request(process_id, number, *parsed))
    return render_template(
        "simulation/simulate.html", row=row, values=values, result=result, heatmap=heatmap(result)
    )


def heatmap(result: dict) -> str:
    """Return the candidate's p90 queue wait per user task as the diagram viewer's badges."""
    was = result["current"]["queue_waits"]
    counts = {}
    for bpmn_id, figures in result["candidate"]["queue_waits"].items():
        minutes = round(figures["p90"] / 60)
        before = round(was[bpmn_id]["p90"] / 60) if bpmn_id in was else None
        label = (
            _("p90 queue wait %(m)s min; the version that ran: %(was)s min", m=minutes, was=before)
            if before is not None
            else _("p90 queue wait %(m)s min; a new task", m=minutes)
        )
        counts[bpmn_id] = {"count": f"{minutes}′", "label": label}
    return json.dumps(counts, ensure_ascii=False)


def _parse(values: dict[str, str]) -> tuple[datetime, datetime, int]:
    """Return the period and runs of the form; a bad field is refused by name."""
    dates = []
    for field in ("from", "to"):
        try:
            day = datetime.fromisoformat(values[field])
        except ValueError as error:
            raise InvalidData(f"{field}: not a date", {field: "not a date"}) from error
        dates.append(day if day.tzinfo else day.replace(tzinfo=UTC))
    if dates[1] <= dates[0]:
        raise InvalidData("to: must be after from", {"to": "must be after from"})
    if not values["runs"].isdigit() or not 1 <= int(values["runs"]) <= MAX_RUNS:
        raise InvalidData("runs: 1 to 10", {"runs": f"1 to {MAX_RUNS}"})
    return dates[0], dates[1], int(values["runs"])
