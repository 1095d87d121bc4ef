"""The process owner's "Simulate": recorded as a job the worker runs, then shown side by side."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.db.simulation import SimulationJob
from webapp.runtime.errors import Conflict, InvalidData
from webapp.simulation import jobs
from webapp.simulation.plan import parse_staffing
from webapp.simulation.report import Request

from . import process_catalogue as catalogue
from .auth import role_required
from .database import db, runtime

bp = Blueprint("simulation", __name__, url_prefix="/processes")
ROLES = ("process_owner", "administrator")
MAX_RUNS = 10


@bp.route("/<process_id>/<int:number>/simulate", methods=["GET", "POST"])
@role_required(*ROLES)
def simulate(process_id: str, number: int) -> Any:
    """Show the form and the process's simulations; on POST, record one for the worker."""
    session = db()
    with session.begin():
        row = catalogue.version(session, process_id, number)
        if request.method == "GET":
            kept = jobs.listed(session, process_id)
    today = datetime.now(UTC).date()
    values = {
        "from": request.form.get("from", (today - timedelta(days=30)).isoformat()),
        "to": request.form.get("to", today.isoformat()),
        "runs": request.form.get("runs", "5"),
        "staffing": request.form.get("staffing", ""),
    }
    if request.method == "GET":
        return render_template("simulation/simulate.html", row=row, values=values, jobs=kept)
    start, end, runs = _parse(values)
    staffing = parse_staffing(values["staffing"]) if values["staffing"].strip() else None
    asked = Request(process_id, number, start, end, runs, staffing=staffing)
    now = runtime().clock()
    with session.begin():
        job_id = jobs.submit(session, asked, current_user.username, now)
    return redirect(url_for(".job", process_id=process_id, job_id=job_id), 303)


@bp.route("/<process_id>/simulations/<int:job_id>")
@role_required(*ROLES)
def job(process_id: str, job_id: int) -> Any:
    """Show a simulation: its progress while it runs, then both versions side by side."""
    session = db()
    with session.begin():
        found = _job(session, process_id, job_id)
        row = catalogue.version(session, process_id, found.version)
    result = found.result if found.status == "done" else None
    return render_template(
        "simulation/job.html",
        row=row,
        job=found,
        result=result,
        heatmap=heatmap(result) if result else None,
    )


@bp.route("/<process_id>/simulations/<int:job_id>/progress")
@role_required(*ROLES)
def progress(process_id: str, job_id: int) -> Any:
    """Return a simulation's state and runs done for its page to poll."""
    session = db()
    with session.begin():
        found = _job(session, process_id, job_id)
        return jsonify(
            status=found.status,
            done=found.runs_done,
            total=2 * found.runs,
            text=render_template("simulation/_state.html", j=found).strip(),
        )


@bp.route("/<process_id>/simulations/<int:job_id>/delete", methods=["POST"])
@role_required(*ROLES)
def delete(process_id: str, job_id: int) -> Any:
    """Delete an ended simulation; one that waits or runs belongs to the worker until it ends."""
    session = db()
    with session.begin():
        found = _job(session, process_id, job_id)
        if found.status in ("pending", "running"):
            raise Conflict(_("A simulation is deleted once it has ended."))
        session.delete(found)
    return redirect(url_for(".simulate", process_id=process_id, number=found.version), 303)


def _job(session, process_id: str, job_id: int) -> SimulationJob:
    """Return a simulation of the process, or answer 404."""
    found = session.get(SimulationJob, job_id)
    if found is None or found.process_id != process_id:
        abort(404)
    return found


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
