"""The service-centre desk: task lists, the task page and the office queue (the counter:
`counter`)."""

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from webapp.accounts import users_with_role
from webapp.db.base import utcnow
from webapp.db.models import HumanTask
from webapp.runtime import forms
from webapp.runtime.errors import Conflict, InvalidData

from . import schemaforms, texts
from .auth import personal_view, role_required
from .database import db, runtime
from .labels import REFUSAL_REASONS, document_label, refusal_label
from .tasklist import (
    COUNT_LIMIT,
    OPEN_STATES,
    Worker,
    count_overdue,
    count_tabs,
    cursor_from,
    filters_from,
    list_tasks,
    may_act,
    may_work,
    person_names,
    supervisor_escalations,
)

bp = Blueprint("tasks", __name__, url_prefix="/tasks")
DESK_ROLES = ("clerk", "supervisor")
LOOKUP_KEYS = ("person", "premises", "title", "consular")
COMMENT_KEYS = ("refusal_comment", "comment")


def current_worker() -> Worker:
    """Return the signed-in user as the task lists see them."""
    return Worker(current_user.username, current_user.iin, current_user.roles)


def visible_tabs() -> tuple[str, ...]:
    """Return the tabs the user may open."""
    return ("mine", "queue", "all") if current_user.has_any("supervisor") else ("mine", "queue")


def page_cursor() -> str | None:
    """Return the cursor of the requested page, or answer 400."""
    try:
        return cursor_from(request.args)
    except ValueError:
        abort(400)


def load_task(task_id: str) -> HumanTask:
    """Return the task's row, or answer 404 or 403."""
    session = db()
    with session.begin():
        task = session.get(HumanTask, task_id)
    if task is None:
        abort(404)
    if not may_work(task, current_worker()):
        abort(403)
    return task


def actionable_task(task_id: str) -> HumanTask:
    """Return the task's row if the user may act on it, or answer 404 or 403."""
    task = load_task(task_id)
    if not may_act(task, current_worker()):
        abort(403)
    return task


def task_form(task: HumanTask) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return the task's form schema (empty when it has none) and its UI schema."""
    if not task.form:
        return {}, None
    schema, ui_schema = runtime().form_schema(task.id)
    return schema or {}, ui_schema


def refusal_options(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the refusal codes the task's form accepts, with their labels."""
    spec = schema.get("properties", {}).get("refusal_reason")
    if spec is None:
        return []
    choices = schemaforms.form_fields({"properties": {"refusal_reason": spec}})[0].options
    codes = [code for code, _label in choices] or list(REFUSAL_REASONS)
    return [(code, refusal_label(code)) for code in codes if code]


def decision_fields(
    schema: dict[str, Any], ui_schema: dict[str, Any] | None, case: dict[str, Any]
) -> list[schemaforms.Field]:
    """Return the form's fields that apply to the case, less those the refusal form asks for.

    A check only conditions this case rules out would ask for (the owner's presence when the
    applicant owns the premises) is not shown: the checklist is the one that applies.
    """
    unasked = forms.unasked_fields(schema, case)
    fields = [f for f in schemaforms.form_fields(schema, ui_schema) if f.name not in unasked]
    if not refusal_options(schema):
        return fields
    return [f for f in fields if f.name != "refusal_reason" and f.name not in COMMENT_KEYS]


def kept_entries(
    fields: list[schemaforms.Field], values: dict[str, str], refusal: dict[str, str]
) -> list[tuple[str, str]]:
    """Return what the user typed into a form that could not be saved, as label and text."""
    yes_no = {"true": _("Yes"), "false": _("No")}
    entries = [
        (
            f.label,
            yes_no.get(values[f.name], values[f.name]) if f.type == "boolean" else values[f.name],
        )
        for f in fields
        if values.get(f.name)
    ]
    if refusal.get("comment"):
        entries.append((_("Comment"), refusal["comment"]))
    return entries


def render_task(
    task: HumanTask,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    refusal: dict[str, str] | None = None,
    fields: list[schemaforms.Field] | None = None,
) -> tuple[str, int]:
    """Render the task page with the form's values and errors.

    When the task closed while the user was typing, what they typed is shown as a list, so
    that nothing they entered is lost.
    """
    schema: dict[str, Any] = {}
    ui_schema: dict[str, Any] | None = None
    data: dict[str, Any] = {}
    if task.state in OPEN_STATES:
        schema, ui_schema = task_form(task)
        data = runtime().task_data(task.id)
        texts_of = texts.use(texts.of_instance(task.instance_id))
        fields = texts.localised_fields(
            texts_of, decision_fields(schema, ui_schema, data), schema, task.form, task.ui_form
        )
    fields = fields or []
    if values is None:
        values = schemaforms.display_values(data, fields)
    kept = [] if task.state in OPEN_STATES else kept_entries(fields, values, refusal or {})
    reassign_to = []
    # The runtime gives a task only to a staff user holding its role, and never one assigned
    # to a person: offer just those.
    if (
        current_user.has_any("supervisor")
        and task.state in OPEN_STATES
        and task.assignee is None
        and task.role
    ):
        session = db()
        with session.begin():
            reassign_to = [u.username for u in users_with_role(session, task.role)]
    page = render_template(
        "tasks/task.html",
        task=task,
        fields=fields,
        values=values,
        errors=errors or {},
        lookups={key: data[key] for key in LOOKUP_KEYS if isinstance(data.get(key), dict)},
        refusal_options=refusal_options(schema),
        refusal=refusal or {},
        reassign_to=reassign_to,
        mine=task.claimed_by == current_user.username,
        kept=kept,
        now=utcnow(),
        instructions=texts.instructions(texts.of_instance(task.instance_id), task, data),
    )
    return page, status


@bp.get("/")
@role_required(*DESK_ROLES)
def task_list() -> Any:
    """Show a tab of the task list with its filters, one page at a time."""
    tabs = visible_tabs()
    filters = filters_from(request.args)
    if filters.tab not in tabs:
        abort(403 if filters.tab == "all" else 404)
    cursor = page_cursor()
    session = db()
    with session.begin():
        page = list_tasks(session, current_worker(), filters, utcnow(), cursor)
        counts = count_tabs(session, current_worker(), tabs)
        names = person_names(session, page.tasks, personal_view())
    return render_template(
        "tasks/list.html",
        page=page,
        counts=counts,
        tabs=tabs,
        filters=filters,
        names=names,
        now=utcnow(),
    )


@bp.get("/<task_id>")
@role_required(*DESK_ROLES)
def task_page(task_id: str) -> Any:
    """Show a task: instructions, registry lookups and its form (the checklist)."""
    return render_task(load_task(task_id))


@bp.post("/<task_id>/claim")
@role_required(*DESK_ROLES)
def claim(task_id: str) -> Any:
    """Claim the task for the signed-in user."""
    actionable_task(task_id)
    try:
        runtime().claim(task_id, current_user.username)
    except Conflict as error:
        flash(_("The task could not be claimed: %(reason)s", reason=error.message), "error")
    return redirect(url_for("tasks.task_page", task_id=task_id), 303)


@bp.post("/<task_id>/unclaim")
@role_required(*DESK_ROLES)
def unclaim(task_id: str) -> Any:
    """Give the task back to the role's queue."""
    actionable_task(task_id)
    try:
        runtime().unclaim(task_id, current_user.username)
    except Conflict as error:
        flash(_("The task could not be released: %(reason)s", reason=error.message), "error")
        return redirect(url_for("tasks.task_page", task_id=task_id), 303)
    flash(_("The task is back in the queue."), "info")
    return redirect(url_for("tasks.task_list"), 303)


@bp.post("/<task_id>/reassign")
@role_required("supervisor")
def reassign(task_id: str) -> Any:
    """Give the task to another user (supervisors only).

    The runtime refuses a user who may not take it, or a task assigned to a person, with the
    reason (422, 403); a task someone changed meanwhile is flashed as before.
    """
    actionable_task(task_id)
    username = request.form.get("user", "").strip()
    if not username:
        flash(_("Choose the user to give the task to."), "error")
        return redirect(request.referrer or url_for("tasks.task_page", task_id=task_id), 303)
    try:
        runtime().assign(task_id, username, current_user.username)
    except Conflict as error:
        flash(_("The task could not be reassigned: %(reason)s", reason=error.message), "error")
    else:
        flash(_("The task was given to %(user)s.", user=username), "info")
    return redirect(url_for("tasks.supervisor"), 303)


def _finish(task: HumanTask, data: dict[str, Any]) -> Any:
    """Complete the task with the data; return a redirect, or None after flashing a conflict.

    A completion that registered the person leads to the receipt for the citizen.
    """
    try:
        instance = runtime().complete(task.id, data, current_user.username)
    except Conflict as error:
        flash(
            _(
                "This task was completed or changed by someone else before your form arrived "
                "(%(reason)s). Your entries are kept below; nothing was saved.",
                reason=error.message,
            ),
            "error",
        )
        return None
    number = instance.business_key or instance.id
    flash(_("Task completed for application %(number)s.", number=number), "success")
    if instance.data.get("registration_id") and instance.status == "completed":
        return redirect(url_for("receipts.receipt", instance_id=instance.id), 303)
    return redirect(url_for("tasks.task_list"), 303)


@bp.post("/<task_id>/complete")
@role_required(*DESK_ROLES)
def complete(task_id: str) -> Any:
    """Complete the task with the submitted form; re-show it with errors if invalid."""
    task = actionable_task(task_id)
    schema, ui_schema = task_form(task)
    case = runtime().task_data(task.id)
    fields = decision_fields(schema, ui_schema, case)
    values = schemaforms.posted_values(request.form, fields)
    data, errors = schemaforms.typed_data(values, fields)
    errors = errors or schemaforms.validate(schema, forms.with_case(schema, data, case))
    if errors:
        return render_task(task, values, errors, 422)
    try:
        done = _finish(task, data)
    except InvalidData as error:
        return render_task(task, values, error.errors, 422)
    if done is not None:
        return done
    return render_task(load_task(task_id), values, status=409, fields=fields)


@bp.post("/<task_id>/refuse")
@role_required(*DESK_ROLES)
def refuse(task_id: str) -> Any:
    """Complete the task as a refusal with a coded reason and a comment.

    A refusal approves nothing: every required yes/no field of the form is sent as no.
    """
    task = actionable_task(task_id)
    schema, _ui = task_form(task)
    codes = {code for code, _label in refusal_options(schema)}
    refusal = {
        "reason": request.form.get("refusal_reason", ""),
        "comment": request.form.get("comment", "").strip(),
    }
    if refusal["reason"] not in codes:
        flash(_("Choose the reason for refusal."), "error")
        return render_task(task, status=422, refusal=refusal)
    properties = schema.get("properties", {})
    data: dict[str, Any] = {
        f.name: False for f in schemaforms.form_fields(schema) if f.required and f.type == "boolean"
    }
    data["refusal_reason"] = refusal["reason"]
    comment_key = next((key for key in COMMENT_KEYS if key in properties), None)
    if comment_key and refusal["comment"]:
        data[comment_key] = refusal["comment"]
    try:
        done = _finish(task, data)
    except InvalidData as error:
        flash(
            _("The refusal was not accepted: %(fields)s", fields=", ".join(error.errors)), "error"
        )
        return render_task(task, status=422, refusal=refusal)
    if done is not None:
        return done
    return render_task(load_task(task_id), status=409, refusal=refusal)


@bp.get("/supervisor")
@role_required("supervisor")
def supervisor() -> Any:
    """Show the office queue with waiting times, the escalations and reassignment."""
    filters = filters_from(request.args, tab="all")
    cursor = page_cursor()
    now = utcnow()
    session = db()
    with session.begin():
        page = list_tasks(session, current_worker(), filters, now, cursor)
        escalations = supervisor_escalations(session)
        names = person_names(session, page.tasks + escalations, personal_view())
        overdue = count_overdue(session, now)
        staff = sorted({u.username for role in DESK_ROLES for u in users_with_role(session, role)})
    return render_template(
        "tasks/supervisor.html",
        page=page,
        escalations=escalations,
        overdue=overdue,
        staff=staff,
        filters=filters,
        names=names,
        now=now,
    )


@bp.app_template_filter("refusal_label")
def refusal_label_filter(code: str) -> str:
    """Return the label of a refusal code in templates."""
    return refusal_label(code)


@bp.app_template_filter("document_label")
def document_label_filter(code: str) -> str:
    """Return the label of a document code in templates."""
    return document_label(code)


@bp.app_template_filter("count_label")
def count_label(count: int) -> str:
    """Return a tab count, shown as "100+" once it reaches the counting limit."""
    return f"{COUNT_LIMIT}+" if count >= COUNT_LIMIT else str(count)


@bp.app_template_global("is_overdue")
def is_overdue(task: HumanTask, now: Any) -> bool:
    """Tell whether an open task is past its due time."""
    return task.due_at is not None and task.due_at < now and task.state in OPEN_STATES


# The counter's page is a route of this blueprint kept in a module of their own.
from . import counter  # noqa: E402, F401
