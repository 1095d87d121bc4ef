"""Administration: incidents, instance suspension and termination, history retention (users:
`admin_users`)."""

import json
from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select
from werkzeug.datastructures import MultiDict

from webapp.analytics.instances import InstanceFilter, list_instances
from webapp.analytics.trace import instance_trace
from webapp.archive import archive, count_archivable, default_path
from webapp.cockpit import batches
from webapp.cockpit.retries import RetryOutcome, retry
from webapp.db.base import utcnow
from webapp.db.models import Incident, Instance
from webapp.runtime import repair, variable_edit
from webapp.runtime.errors import InvalidData, TirkeuError

from .analytics import filters_from, process_versions
from .auth import personal_view, role_required
from .database import db, runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")
INCIDENT_PAGE = 100
# Row ids are 32-bit integers on PostgreSQL: a larger number names nothing.
MAX_ID = 2**31 - 1
INSTANCE_ACTIONS = ("suspend", "resume", "terminate")
INSTANCE_PAGE = 50
# The list's own arguments, kept by its pages and by the batch it starts.
FILTER_ARGS = ("q", "status", "incident", "process", "version")
DEFAULT_RETENTION_DAYS = 365


@bp.before_request
@role_required("administrator")
def administrators_only() -> None:
    """Let only administrators in."""


def retention_days() -> int:
    """Return the configured age, in days, after which ended instances are archived."""
    settings = current_app.config.get("SETTINGS")
    return int(
        current_app.config.get("RETENTION_DAYS")
        or getattr(settings, "retention_days", DEFAULT_RETENTION_DAYS)
    )


@bp.get("/")
def index() -> Any:
    """List incidents, open ones first, newest first within each group."""
    session = db()
    with session.begin():
        open_first = case((Incident.status == "open", 0), else_=1)
        incidents = session.scalars(
            select(Incident)
            .order_by(open_first, Incident.created_at.desc(), Incident.id.desc())
            .limit(INCIDENT_PAGE)
        ).all()
    return render_template("admin/incidents.html", incidents=incidents)


@bp.post("/incidents/<int(max=2147483647):incident_id>/<action>")
def incident_action(incident_id: int, action: str) -> Any:
    """Retry or resolve an incident through the runtime."""
    if action not in ("retry", "resolve"):
        abort(404)
    try:
        if action == "resolve":
            runtime().resolve_incident(incident_id, current_user.username)
            flash(_("Incident %(id)s resolved.", id=incident_id), "info")
        else:
            flash_retry(retry(runtime(), incident_id, current_user.username))
    except TirkeuError as error:
        flash(error.message, "error")
    back = request.form.get("next", "")
    # Only back to an administration page: never to an address a crafted form names.
    return redirect(back if back.startswith("/admin/") else url_for("admin.index"))


def flash_retry(outcome: RetryOutcome) -> None:
    """Tell the administrator what a retry really did."""
    if outcome.outcome == "retried":
        flash(_("Incident %(id)s: the task ran again and the incident is closed.",
                id=outcome.incident_id), "info")  # fmt: skip
        return
    flash(
        _(
            "Incident %(id)s: the task failed again (attempt %(attempts)s): %(message)s",
            id=outcome.incident_id,
            attempts=outcome.attempts,
            message=personal_view().text(outcome.message or ""),
        ),
        "error",
    )


def list_args(args: MultiDict) -> dict[str, str]:
    """Return the list's filter arguments that are set."""
    return {name: args[name] for name in FILTER_ARGS if args.get(name)}


def list_filters(args: MultiDict) -> InstanceFilter:
    """Return the cockpit's filters: the analysts' list's, and open incidents only if asked."""
    return replace(filters_from(MultiDict(list_args(args))), incident=args.get("incident") == "1")


@bp.get("/instances")
def instances() -> Any:
    """Find instances by application number, IIN, status, open incident, process and version.

    A number that is an instance's own id opens that instance.
    """
    number = (request.args.get("id") or request.args.get("q") or "").strip()
    if number.isdigit() and len(number) < 12 and int(number) <= MAX_ID:
        session = db()
        with session.begin():
            if session.get(Instance, int(number)) is not None:
                return redirect(url_for("admin.instance", instance_id=int(number)))
    args = list_args(request.args)
    page = list_instances(
        db(),
        list_filters(request.args),
        after=request.args.get("after", type=int),
        limit=INSTANCE_PAGE,
        view=personal_view(),
    )
    return render_template(
        "admin/instances.html",
        page=page,
        args=args,
        versions=process_versions(),
        next_url=url_for(".instances", **args, after=page.next_after) if page.next_after else None,
    )


@bp.get("/instances/<int(max=2147483647):instance_id>")
def instance(instance_id: int) -> Any:
    """Show an instance to repair: its diagram, tokens, variables, incidents and history."""
    return instance_page(instance_id)


def instance_page(instance_id: int, preview: repair.Preview | None = None) -> str:
    """Render the instance page, with a modification's preview when one is asked for."""
    view = personal_view()
    trace = instance_trace(db(), instance_id, view=view)
    state = repair.repairable(runtime(), instance_id)
    return render_template(
        "admin/instance.html",
        trace=trace,
        state=state,
        data=view(state.data),
        preview=preview,
        markers=json.dumps(trace.markers.to_dict()),
        shown=lambda value: json.dumps(value, ensure_ascii=False),
    )


def back_to(instance_id: int) -> Response:
    """Return to the instance page."""
    return redirect(url_for("admin.instance", instance_id=instance_id))


def flash_refusal(error: TirkeuError) -> None:
    """Show why a repair was refused, field by field where the runtime named fields."""
    reasons = getattr(error, "errors", None) or {}
    details = "; ".join(f"{field}: {reason}" for field, reason in reasons.items())
    flash(f"{error.message}" + (f" ({details})" if details else ""), "error")


def expected_version() -> int | None:
    """Return the state of the instance the form was shown for."""
    return request.form.get("version", type=int)


@bp.post("/instances/<int(max=2147483647):instance_id>/variable")
def set_variable(instance_id: int) -> Any:
    """Set a variable to a typed (JSON) value, with a reason; the runtime audits it."""
    form = request.form
    try:
        variable_edit.set_variable(
            runtime(),
            instance_id,
            form.get("name", "").strip(),
            variable_edit.parse_value(form.get("value", "")),
            form.get("reason", ""),
            current_user.username,
            expected_version(),
        )
    except TirkeuError as error:
        flash_refusal(error)
        return redirect(url_for("admin.instance", instance_id=instance_id, _anchor="variables"))
    flash(_("Variable %(name)s set.", name=form.get("name", "").strip()), "info")
    return back_to(instance_id)


def operations_of(form: MultiDict) -> list[repair.Operation]:
    """Return the modification a form asks for: cancels first, then the starts."""
    found = [repair.Operation("cancel", task_id) for task_id in form.getlist("cancel")]
    for kind in ("start_before", "start_after"):
        found += [repair.Operation(kind, element) for element in form.getlist(kind) if element]
    return found


@bp.post("/instances/<int(max=2147483647):instance_id>/modification")
def modification(instance_id: int) -> Any:
    """Preview a modification of the instance's tokens, or apply the previewed one."""
    operations = operations_of(request.form)
    try:
        if request.form.get("apply") != "1":
            repair.checked_reason(request.form.get("reason"))
            return instance_page(instance_id, repair.preview(runtime(), instance_id, operations))
        repair.modify(
            runtime(),
            instance_id,
            operations,
            request.form.get("reason", ""),
            current_user.username,
            expected_version(),
        )
    except TirkeuError as error:
        flash_refusal(error)
        return redirect(url_for("admin.instance", instance_id=instance_id, _anchor="tokens"))
    flash(_("Instance %(id)s modified.", id=instance_id), "info")
    return back_to(instance_id)


@bp.get("/batch")
def batch() -> Any:
    """Show how many instances a batch retry or terminate would take, and run it."""
    kind = batches.checked_kind(request.args.get("kind", ""))
    session = db()
    with session.begin():
        found = batches.preview(session, kind, list_filters(request.args), personal_view())
    return render_template("admin/batch.html", found=found, args=list_args(request.args))


@bp.post("/batch/chunk")
def batch_chunk() -> Response:
    """Run the next chunk of a batch and answer its results as JSON."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("filters", {}), dict):
        raise InvalidData("the body must be a JSON object", {"body": "not an object"})
    upto, after = payload.get("upto"), payload.get("after", 0)
    if not all(isinstance(n, int) and 0 <= n <= MAX_ID for n in (upto, after)):
        raise InvalidData("upto and after must be instance ids", {"upto": "an instance id"})
    filters = {k: str(v) for k, v in payload.get("filters", {}).items() if k in FILTER_ARGS}
    view = personal_view()
    chunk = batches.run_chunk(
        runtime(),
        batches.checked_kind(str(payload.get("kind"))),
        list_filters(MultiDict(filters)),
        view,
        current_user.username,
        upto,
        after,
    )
    results = [
        {**asdict(result), "message": view.text(result.message) if result.message else None}
        for result in chunk.results
    ]
    return jsonify({"results": results, "after": chunk.after})


@bp.post("/instances/<int(max=2147483647):instance_id>/<action>")
def instance_action(instance_id: int, action: str) -> Any:
    """Suspend, resume or terminate an instance; the runtime locks it and records the event."""
    if action not in INSTANCE_ACTIONS:
        abort(404)
    try:
        getattr(runtime(), action)(instance_id, current_user.username)
    except TirkeuError as error:
        flash(error.message, "error")
    else:
        flash(_("Instance %(id)s: done.", id=instance_id), "info")
    return back_to(instance_id)


@bp.get("/retention")
def retention() -> Any:
    """Show the retention policy and how many instances it would archive now."""
    days = retention_days()
    waiting = count_archivable(
        current_app.extensions["tirkeu_sessions"], utcnow() - timedelta(days=days)
    )
    return render_template("admin/retention.html", days=days, waiting=waiting)


@bp.post("/retention")
def run_retention() -> Any:
    """Archive the ended instances older than the configured age now."""
    settings = current_app.config.get("SETTINGS")
    folder = current_app.config.get("ARCHIVE_FOLDER") or (
        settings.instance_path / "archives" if settings is not None else None
    )
    if folder is None:
        abort(503)
    now = utcnow()
    result = archive(
        current_app.extensions["tirkeu_sessions"],
        timedelta(days=retention_days()),
        default_path(folder, now),
        now=now,
    )
    flash(
        _(
            "%(count)s instances archived to %(file)s.",
            count=result.instances,
            file=result.path.name,
        ),
        "info",
    )
    return redirect(url_for("admin.retention"))


# The users' pages are routes of this blueprint kept in a module of their own.
from . import admin_users  # noqa: E402, F401
