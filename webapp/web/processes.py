"""The process owners' room: catalogue, viewer, editor, save and propose, diff, review, tests.

A deployment made here is proposed: it takes effect when another process owner or an
administrator approves it on its review page, with its changes in front of them.
"""

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import process_tests
from webapp.diagram_diff import DiagramDiff, diff_diagrams, elements
from webapp.runtime import inputs
from webapp.runtime.deployments import APPROVED, PENDING
from webapp.runtime.errors import Conflict, Forbidden, InvalidDiagram
from webapp.runtime.texts import Catalogue

from . import process_catalogue as catalogue
from . import schemaforms
from .auth import role_required
from .bodies import body_limit
from .database import db, runtime
from .texts import catalogue as deployment_texts
from .texts import localised_fields, use

bp = Blueprint("processes", __name__, url_prefix="/processes")
ROLES = ("process_owner", "administrator")
# A saved file travels in one request: the runtime refuses anything over its own smaller limits.
MAX_SAVE_BYTES = 4 * 1024 * 1024


def _bundle(process_id: str, number: int) -> tuple[catalogue.VersionRow, dict[str, bytes]]:
    session = db()
    with session.begin():
        row = catalogue.version(session, process_id, number)
        return row, catalogue.files(session, row.deployment_id)


def _form_previews(
    bundle: dict[str, bytes], bpmn_file: str, texts_of: Catalogue
) -> list[dict[str, Any]]:
    """Return each user task's form as its performer sees it, in the reader's language."""
    previews = []
    for form in catalogue.user_task_forms(bundle[bpmn_file]):
        schema = catalogue.json_file(bundle, form.schema_file)
        ui_schema = catalogue.json_file(bundle, form.ui_file)
        fields = schemaforms.form_fields(schema, ui_schema) if schema is not None else []
        fields = localised_fields(texts_of, fields, schema or {}, form.schema_file, form.ui_file)
        previews.append({"task": form, "fields": fields})
    return previews


@bp.get("/")
@role_required(*ROLES)
def index() -> Any:
    """List every deployed process with its versions, the latest marked."""
    session = db()
    with session.begin():
        rows = catalogue.versions(session)
    grouped: dict[str, list[catalogue.VersionRow]] = {}
    for row in rows:
        grouped.setdefault(row.process_id, []).append(row)
    return render_template("processes/catalogue.html", processes=grouped)


@bp.get("/<process_id>/<int:number>/")
@role_required(*ROLES)
def viewer(process_id: str, number: int) -> Any:
    """Show a version: its diagram, decision tables and user task forms."""
    row, bundle = _bundle(process_id, number)
    session = db()
    with session.begin():
        rows = catalogue.versions(session, process_id)
        waiting = catalogue.waiting_instances(session, row.id)
    others = [v.version for v in rows]
    texts_of = use(deployment_texts(row.deployment_id))
    return render_template(
        "processes/viewer.html",
        row=row,
        latest=next((v.version for v in rows if v.latest), None),
        waiting=waiting,
        decisions=sorted(name for name in bundle if name.endswith(".dmn")),
        previews=_form_previews(bundle, row.bpmn_file, texts_of),
        tests=sorted(name for name in bundle if process_tests.is_test_file(name)),
        versions=others,
    )


@bp.get("/<process_id>/<int:number>/files/<name>")
@role_required(*ROLES)
def file(process_id: str, number: int, name: str) -> Response:
    """Return one file of a version as it was deployed."""
    _row, bundle = _bundle(process_id, number)
    if name not in bundle:
        abort(404)
    kind = "application/xml" if catalogue.is_xml(name) else "application/json"
    return Response(bundle[name], mimetype=kind, headers={"Cache-Control": "no-store"})


@bp.get("/<process_id>/<int:number>/edit")
@role_required(*ROLES)
def editor(process_id: str, number: int) -> Any:
    """Open a version in the modelers, with its forms editable beside them."""
    row, bundle = _bundle(process_id, number)
    forms = {
        name: bundle[name].decode()
        for name in sorted(bundle)
        if name.endswith(".json") and not process_tests.is_test_file(name)
    }
    return render_template(
        "processes/editor.html",
        row=row,
        decisions=sorted(name for name in bundle if name.endswith(".dmn")),
        forms=forms,
        operators=json.dumps(catalogue.operator_parameters(runtime().operators)),
        form_names=json.dumps(sorted(n for n in forms if not n.endswith(".uischema.json"))),
    )


def _problems(problems) -> list[dict[str, Any]]:
    return [
        {
            "file": p.file,
            "line": p.line,
            "element": p.element,
            "message": p.message,
            "warning": p.warning,
        }
        for p in problems
    ]


@bp.post("/<process_id>/<int:number>/save/<name>")
@role_required(*ROLES)
@body_limit(MAX_SAVE_BYTES)
def save(process_id: str, number: int, name: str) -> Any:
    """Validate the version's bundle with one file replaced; propose it for deployment when
    asked: it takes effect once another person approves it."""
    row, bundle = _bundle(process_id, number)
    if name not in bundle:
        abort(404)
    bundle[name] = request.get_data(cache=False)
    # Warnings (texts to translate) are shown but do not stop a proposal: approval waits for them.
    problems = runtime().validate(bundle)
    if request.args.get("deploy") != "1" or not all(p.warning for p in problems):
        return {"problems": _problems(problems)}, 200 if all(p.warning for p in problems) else 422
    try:
        deployed = runtime().propose(bundle, author=current_user.username)
    except InvalidDiagram as error:
        return {"problems": _problems(error.problems)}, 422
    except Conflict as error:
        problem = {"file": name, "line": None, "element": None, "message": error.message}
        return {"problems": [problem]}, 409
    return {
        "problems": _problems(problems),
        "deployed": [
            {
                "process_id": d.process_id,
                "version": d.version,
                "created": d.created,
                "status": d.status,
                "deployment_id": d.deployment_id,
                "url": url_for("processes.viewer", process_id=d.process_id, number=d.version),
                "review_url": url_for("processes.review", deployment_id=d.deployment_id),
            }
            for d in deployed
        ],
    }


@bp.post("/form-preview")
@role_required(*ROLES)
def form_preview() -> Any:
    """Render a form schema (and optional UI schema) as the clerk will see it."""
    posted = request.get_json(silent=True) or {}
    try:
        schema = inputs.loads(posted.get("schema") or "{}")
        ui_schema = inputs.loads(posted["ui_schema"]) if posted.get("ui_schema") else None
        fields = schemaforms.form_fields(schema, ui_schema)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        return render_template("processes/form_preview.html", error=str(error)), 422
    return render_template("processes/form_preview.html", fields=fields, error=None)


def _changes(
    old: catalogue.VersionRow | None,
    old_bundle: dict[str, bytes],
    new: catalogue.VersionRow,
    new_bundle: dict[str, bytes],
) -> dict[str, Any]:
    """Compare two versions' diagrams and files; with no older version all is added."""
    new_bpmn = new_bundle[new.bpmn_file]
    if old is None:
        changes = DiagramDiff(tuple(sorted(elements(new_bpmn))), (), ())
    else:
        changes = diff_diagrams(old_bundle[old.bpmn_file], new_bpmn)
    files_changed = sorted(
        name
        for name in old_bundle.keys() | new_bundle.keys()
        if old_bundle.get(name) != new_bundle.get(name)
    )
    return {
        "old": old,
        "new": new,
        "changes": changes,
        "decisions": {
            name: diff_diagrams(old_bundle[name], new_bundle[name])
            for name in files_changed
            if name.endswith(".dmn") and name in old_bundle and name in new_bundle
        },
        "markers": json.dumps(changes.as_markers()),
        "files_changed": files_changed,
    }


@bp.get("/<process_id>/diff")
@role_required(*ROLES)
def diff(process_id: str) -> Any:
    """Show what changed between two versions, highlighted on the newer diagram."""
    older = request.args.get("from", type=int)
    newer = request.args.get("to", type=int)
    if older is None or newer is None:
        abort(400)
    old_row, old_bundle = _bundle(process_id, older)
    new_row, new_bundle = _bundle(process_id, newer)
    changes = _changes(old_row, old_bundle, new_row, new_bundle)
    return render_template("processes/diff.html", diffs=[changes], **changes)


@bp.get("/deployments/")
@role_required(*ROLES)
def deployments() -> Any:
    """List the deployments awaiting a decision, and the latest ones decided."""
    pending = runtime().deployments(PENDING)
    decided = [d for d in runtime().deployments(limit=20) if d.status != PENDING]
    return render_template("processes/deployments.html", pending=pending, decided=decided)


@bp.get("/deployments/<int:deployment_id>")
@role_required(*ROLES)
def review(deployment_id: int) -> Any:
    """Show a deployment's changes against the versions in effect, to approve or reject it."""
    deployment = runtime().deployment(deployment_id)
    session = db()
    diffs = []
    with session.begin():
        for process_id, number in deployment.versions:
            new = catalogue.version(session, process_id, number)
            old = catalogue.in_effect(session, process_id)
            old_files = catalogue.files(session, old.deployment_id) if old else {}
            new_files = catalogue.files(session, new.deployment_id)
            diffs.append(_changes(old, old_files, new, new_files))
    return render_template("processes/review.html", deployment=deployment, diffs=diffs)


@bp.post("/deployments/<int:deployment_id>/<any(approve, reject):decision>")
@role_required(*ROLES)
def decide(deployment_id: int, decision: str) -> Any:
    """Approve or reject a pending deployment: never its author's own."""
    act = runtime().approve if decision == "approve" else runtime().reject
    try:
        decided = act(deployment_id, current_user.username)
    except (Conflict, Forbidden) as error:
        flash(error.message, "error")
        return redirect(url_for("processes.review", deployment_id=deployment_id))
    if decided.status == APPROVED:
        flash(_("Deployment %(id)s is approved and in effect.", id=decided.id), "info")
    else:
        flash(_("Deployment %(id)s is rejected.", id=decided.id), "info")
    return redirect(url_for("processes.deployments"))


@bp.post("/<process_id>/<int:number>/tests")
@role_required(*ROLES)
def run_tests(process_id: str, number: int) -> Any:
    """Run the version's test cases on a throwaway database and show the results."""
    row, bundle = _bundle(process_id, number)
    results = process_tests.run_bundle(bundle, runtime().config, runtime().writer_processes)
    return render_template("processes/tests.html", row=row, results=results)


@bp.get("/instances/<int:instance_id>/migrate")
@role_required("administrator")
def migration(instance_id: int) -> Any:
    """Preview moving a waiting instance to another version."""
    to = request.args.get("to", type=int)
    if to is None:
        abort(400)
    preview = runtime().migration_preview(instance_id, to)
    return render_template("processes/migration.html", preview=preview)


@bp.post("/instances/<int:instance_id>/migrate")
@role_required("administrator")
def migrate(instance_id: int) -> Any:
    """Move a waiting instance to another version, when that is safe."""
    to = request.form.get("to", type=int)
    if to is None:
        abort(400)
    try:
        moved = runtime().migrate(instance_id, to, actor=current_user.username)
    except Conflict as error:
        flash(error.message, "error")
        return redirect(url_for("processes.migration", instance_id=instance_id, to=to))
    flash(_("Instance %(id)s now runs on version %(v)s.", id=moved.id, v=moved.version), "info")
    return redirect(url_for("processes.viewer", process_id=moved.process_id, number=moved.version))
