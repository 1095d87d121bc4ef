"""The analysts' pages: instance list and trace, process dashboard, event-log export, metrics."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from werkzeug.datastructures import MultiDict

from webapp.analytics.charts import bar_chart
from webapp.analytics.dashboard import parse_term, process_dashboard, seconds_text
from webapp.analytics.export import export_csv, export_xes
from webapp.analytics.instances import InstanceFilter, filtered, instances_csv, list_instances
from webapp.analytics.metrics import CONTENT_TYPE, prometheus_text
from webapp.analytics.trace import instance_trace, process_file
from webapp.db.models import Instance, ProcessVersion
from webapp.privacy import View
from webapp.runtime.texts import Catalogue

from . import texts
from .auth import authenticate_bearer, personal_view, role_required
from .database import db, runtime
from .i18n import local_time

bp = Blueprint("analytics", __name__, url_prefix="/analytics")
metrics_bp = Blueprint("metrics", __name__)
ANALYTICS_ROLES = ("analyst", "supervisor", "administrator")
DEFAULT_TERM = "PT15M"
# What each kind of audit-log event is called on the timeline.
EVENT_LABELS = {
    "instance_started": _l("Started"),
    "instance_completed": _l("Finished"),
    "instance_suspended": _l("Suspended"),
    "instance_resumed": _l("Resumed"),
    "instance_terminated": _l("Terminated"),
    "instance_migrated": _l("Moved to another version"),
    "task_ready": _l("Ready"),
    "task_waiting": _l("Waiting"),
    "task_completed": _l("Completed"),
    "task_cancelled": _l("Cancelled"),
    "task_error": _l("Failed"),
    "incident_opened": _l("Incident opened"),
    "retry": _l("Retried"),
    "claimed": _l("Claimed"),
    "unclaimed": _l("Released"),
    "assigned": _l("Assigned"),
    "message": _l("Message received"),
    "message_undelivered": _l("Message not delivered"),
    "timer": _l("Timer fired"),
}
# The summary's fields by name; other fields are shown with their name in words.
FIELD_LABELS = {
    "application_number": _l("Application number"),
    "channel": _l("Channel"),
    "registration_type": _l("Registration type"),
    "applicant_type": _l("Applicant type"),
    "applicant_iin": _l("Applicant's IIN"),
    "person_iin": _l("IIN of the person registered"),
    "arc": _l("Address registration code"),
    "outcome": _l("Outcome"),
    "refusal_reason": _l("Reason for refusal"),
}
EXPORTS = {
    "xes": (export_xes, "application/xml"),
    "csv": (export_csv, "text/csv; charset=utf-8"),
}


def parse_day(value: str | None) -> datetime | None:
    """Return a YYYY-MM-DD day as its UTC midnight, or answer 400."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        abort(400, f"not a date: {value}")


def filters_from(args: MultiDict) -> InstanceFilter:
    """Return the list's filters from the query string; `until` includes its whole day."""
    until = parse_day(args.get("until"))
    return InstanceFilter(
        process_id=args.get("process") or None,
        version=args.get("version", type=int),
        status=args.get("status") or None,
        outcome=args.get("outcome") or None,
        refusal_reason=args.get("refusal_reason") or None,
        channel=args.get("channel") or None,
        created_from=parse_day(args.get("since")),
        created_until=until + timedelta(days=1) if until else None,
        overdue=args.get("overdue") == "1",
        search=args.get("q") or None,
    )


def download_filters() -> tuple[InstanceFilter, View]:
    """Return a download's filters and the viewer's view, refusing a search they may not make.

    The query is built before the stream starts, so that a refusal is an answer of its own
    rather than an error in the middle of a download.
    """
    filters, view = filters_from(request.args), personal_view()
    filtered(filters, datetime.now(UTC), view)
    return filters, view


def sessions():
    """Return the session factory, for streams that read in batches of their own."""
    return current_app.extensions["tirkeu_sessions"]


def download(chunks, filename: str, mimetype: str) -> Response:
    """Stream chunks to the browser as a file download."""
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/")
@role_required(*ANALYTICS_ROLES)
def index() -> Any:
    """List instances, newest first, filtered, a page at a time."""
    page = list_instances(
        db(),
        filters_from(request.args),
        after=request.args.get("after", type=int),
        view=personal_view(),
    )
    args = {k: v for k, v in request.args.items() if k != "after"}
    versions = process_versions()
    # The labels of the list's code values: those of the process filtered on, else the first.
    shown = request.args.get("process") or next((p for p, _v in versions), None)
    if shown:
        texts.use(texts.of_process(shown))
    return render_template(
        "analytics/instances.html",
        page=page,
        args=args,
        versions=versions,
        next_url=url_for(".index", **args, after=page.next_after) if page.next_after else None,
    )


@bp.get("/instances.csv")
@role_required(*ANALYTICS_ROLES)
def instances_download() -> Response:
    """Download the filtered instance list as CSV."""
    filters, view = download_filters()
    chunks = instances_csv(sessions(), filters, view)
    return download(chunks, "instances.csv", "text/csv; charset=utf-8")


@bp.get("/instances/<int:instance_id>")
@role_required(*ANALYTICS_ROLES)
def instance(instance_id: int) -> Any:
    """Show an instance: its diagram with the path taken, its timeline and its data.

    With `process`, the diagram is that of a process one of its call activities started.
    """
    trace = instance_trace(
        db(),
        instance_id,
        view=personal_view(),
        process=request.args.get("process") or None,
    )
    texts.use(texts.of_instance(instance_id))
    return render_template(
        "analytics/instance.html",
        trace=trace,
        markers=json.dumps(trace.markers.to_dict()),
        counts=json.dumps(
            {
                element: {"count": n, "label": str(n)}
                for element, n in trace.markers.counts.items()
                if n > 1
            }
        ),
        duration=duration_text,
        event_label=event_label,
        field_label=field_label,
    )


def event_label(kind: str) -> str:
    """Return what an audit-log event kind is called on the timeline."""
    return str(EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize()))


def field_label(name: str) -> str | None:
    """Return a data field's label: the summary's own, else the title a form of the process
    gives it; else its name in words for an English reader, and None (shown as the code it
    is) for any other, as the name is English."""
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    title = texts.field_title(name)
    if title is not None:
        return title
    if texts.language() == texts.SOURCE_LANGUAGE:
        return name.replace("_", " ").capitalize()
    return None


def bpmn_file(version_filter, process: str | None = None) -> Response:
    """Return the BPMN file of the process version the filter selects.

    With `process`, the file of its bundle that defines that process (one it calls).
    """
    row = (
        db()
        .execute(
            select(ProcessVersion.deployment_id, ProcessVersion.bpmn_file).where(version_filter)
        )
        .first()
    )
    if row is None:
        abort(404)
    name = row.bpmn_file if process is None else process_file(db(), row.deployment_id, process)
    content = runtime().deployment_file(row.deployment_id, name)
    return Response(content, mimetype="application/xml")


@bp.get("/instances/<int:instance_id>/diagram.bpmn")
@role_required(*ANALYTICS_ROLES)
def diagram(instance_id: int) -> Response:
    """Return the BPMN file of the version an instance runs on, or of a `process` it called."""
    version_id = select(Instance.process_version_id).where(Instance.id == instance_id)
    return bpmn_file(ProcessVersion.id == version_id.scalar_subquery(), request.args.get("process"))


@bp.get("/processes/<process_id>/<int:version>/diagram.bpmn")
@role_required(*ANALYTICS_ROLES)
def version_diagram(process_id: str, version: int) -> Response:
    """Return the BPMN file of a process version, or of a `process` it calls."""
    return bpmn_file(
        and_(ProcessVersion.process_id == process_id, ProcessVersion.version == version),
        request.args.get("process"),
    )


@bp.get("/dashboard")
@role_required(*ANALYTICS_ROLES)
def dashboard() -> Any:
    """Show a process's dashboard over a date range (the last seven days by default).

    Every version is counted by default; `version` narrows it to one. Gateways and events are
    left out of the element table unless `all_elements` asks for them.
    """
    versions = process_versions()
    if not versions:
        return render_template("analytics/dashboard.html", dashboard=None, versions=versions)
    process_id = request.args.get("process") or versions[0][0]
    deployed = [v for p, v in versions if p == process_id]
    if not deployed:
        abort(404, f"no process {process_id!r} is deployed")
    version = request.args.get("version", type=int)
    if version is not None and version not in deployed:
        abort(404, f"no version {version} of process {process_id!r}")
    until = parse_day(request.args.get("until")) or datetime.now(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    since = parse_day(request.args.get("since")) or until - timedelta(days=6)
    term = runtime().config.get("service_term", DEFAULT_TERM)
    texts_of = texts.use(texts.of_version(process_id, version or max(deployed)))
    figures = process_dashboard(db(), process_id, version, since, until + timedelta(days=1), term)
    # The diagram shown: the version's own, or that of a process its call activities started.
    shown = request.args.get("diagram") or None
    if shown is not None and shown not in figures.called:
        abort(404, f"no process {shown!r} was called in this range")
    all_elements = request.args.get("all_elements") == "1"
    return render_template(
        "analytics/dashboard.html",
        dashboard=figures,
        versions=versions,
        deployed=deployed,
        process_id=process_id,
        version=version,
        # The heatmap is drawn on the version asked for, or on the latest.
        drawn_version=version or max(deployed),
        since=since.date().isoformat(),
        until=until.date().isoformat(),
        term=parse_term(term),
        shown=shown,
        all_elements=all_elements,
        elements=figures.elements if all_elements else figures.major_elements,
        heatmap=json.dumps(figures.heatmap(shown)),
        charts=dashboard_charts(figures, texts_of),
        duration=seconds_text,
    )


def dashboard_charts(figures, texts_of: Catalogue) -> dict[str, str]:
    """Return the dashboard's SVG charts, labelled in the reader's language."""
    days = [local_time(d.day, "day") for d in figures.throughput]

    def value(code: str | None) -> str:
        return str(texts.value_label(texts_of, code)) if code else _("all")

    lead = [f"{value(t.channel)} · {value(t.registration_type)}" for t in figures.lead_times]
    tasks = [
        " · ".join(
            filter(None, (str(texts.element_name(texts_of, s.bpmn_id, s.name)), s.called_process))
        )
        for s in figures.task_split
    ]
    outcomes = sorted(figures.outcomes.items(), key=lambda item: -item[1])
    return {
        "throughput": bar_chart(
            _("Instances started and finished per day"),
            days,
            [
                (_("started"), [d.started for d in figures.throughput]),
                (_("finished"), [d.finished for d in figures.throughput]),
            ],
        ),
        "lead_times": bar_chart(
            _("Lead time per channel and type"),
            lead,
            [
                ("p50", [t.p50 for t in figures.lead_times]),
                ("p90", [t.p90 for t in figures.lead_times]),
                ("p99", [t.p99 for t in figures.lead_times]),
            ],
            unit=seconds_text,
        ),
        "task_split": bar_chart(
            _("Mean time waiting unclaimed and worked, per user task"),
            tasks,
            [
                (_("waiting"), [s.waiting_mean for s in figures.task_split]),
                (_("working"), [s.working_mean for s in figures.task_split]),
            ],
            stacked=True,
            unit=seconds_text,
        ),
        "outcomes": bar_chart(
            _("Outcomes"),
            [str(texts.value_label(texts_of, o)) if o else _("running") for o, _count in outcomes],
            [(_("instances"), [n for _outcome, n in outcomes])],
        ),
    }


@bp.get("/export.<log_format>")
@role_required(*ANALYTICS_ROLES)
def export(log_format: str) -> Response:
    """Download the event log of the filtered instances as XES or CSV."""
    if log_format not in EXPORTS:
        abort(404)
    exporter, mimetype = EXPORTS[log_format]
    filters, view = download_filters()
    chunks = exporter(sessions(), filters, view=view)
    return download(chunks, f"event-log.{log_format}", mimetype)


@metrics_bp.before_request
def scraper_token() -> None:
    """Let a Prometheus scraper authenticate with a bearer token (`tirkeu users token`)."""
    authenticate_bearer()


@metrics_bp.get("/metrics")
@role_required(*ANALYTICS_ROLES)
def metrics() -> Response:
    """Return the operations metrics in the Prometheus text format."""
    histogram = getattr(runtime(), "step_latency", None)
    return Response(prometheus_text(db(), histogram), mimetype=CONTENT_TYPE)


def process_versions() -> list[tuple[str, int]]:
    """Return every deployed (process, version), newest version first."""
    return [
        (p, v)
        for p, v in db().execute(
            select(ProcessVersion.process_id, ProcessVersion.version).order_by(
                ProcessVersion.process_id, ProcessVersion.version.desc()
            )
        )
    ]


def duration_text(value: timedelta | None) -> str:
    """Return a duration for the timeline, or an empty string."""
    return "" if value is None else seconds_text(value.total_seconds())
