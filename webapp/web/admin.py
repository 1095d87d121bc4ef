"""Administration: incidents, instance suspension and termination, users, history retention."""

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, select

from webapp.accounts import (
    ROLES,
    AccountError,
    create_user,
    issue_token,
    revoke_token,
    set_active,
    set_password,
    set_roles,
    tokens_of,
)
from webapp.archive import archive, count_archivable, default_path
from webapp.db.accounts import User
from webapp.db.base import utcnow
from webapp.db.models import Incident, Instance
from webapp.runtime.errors import TirkeuError

from .auth import role_required
from .database import db, runtime

bp = Blueprint("admin", __name__, url_prefix="/admin")
INCIDENT_PAGE = 100
# Row ids are 32-bit integers on PostgreSQL: a larger number names nothing.
MAX_ID = 2**31 - 1
INSTANCE_ACTIONS = ("suspend", "resume", "terminate")
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
    engine = runtime()
    act = engine.retry_incident if action == "retry" else engine.resolve_incident
    try:
        act(incident_id, current_user.username)
    except TirkeuError as error:
        flash(error.message, "error")
    else:
        flash(_("Incident %(id)s: done.", id=incident_id), "info")
    return redirect(url_for("admin.index"))


@bp.get("/instances")
def instances() -> Any:
    """Find an instance by number and show its status and the actions on it."""
    number = request.args.get("id", "").strip()
    found = None
    if number:
        session = db()
        with session.begin():
            known = number.isdigit() and int(number) <= MAX_ID
            found = session.get(Instance, int(number)) if known else None
        if found is None:
            flash(_("No instance %(id)s.", id=number), "error")
    return render_template("admin/instances.html", number=number, instance=found)


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
    return redirect(url_for("admin.instances", id=instance_id))


def users_page(token: tuple[str, str] | None = None) -> Any:
    """Render the users with their roles, state and valid API tokens; a new token shown once."""
    session = db()
    with session.begin():
        people = session.scalars(select(User).order_by(User.username)).all()
        tokens: dict[str, list] = {}
        for info in tokens_of(session):
            if info.revoked_at is None:
                tokens.setdefault(info.username, []).append(info)
    return render_template(
        "admin/users.html", users=people, roles=ROLES, tokens=tokens, token=token
    )


@bp.get("/users")
def users() -> Any:
    """List the users with their roles, state and API tokens."""
    return users_page()


def checked_roles() -> list[str]:
    """Return the roles ticked in the form."""
    return [role for role in request.form.getlist("roles") if role]


@bp.post("/users")
def add_user() -> Any:
    """Add a user with a password and roles."""
    form = request.form
    session = db()
    try:
        with session.begin():
            create_user(
                session,
                form.get("username", "").strip(),
                form.get("password", ""),
                checked_roles(),
                iin=form.get("iin", "").strip() or None,
                full_name=form.get("full_name", "").strip() or None,
            )
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(_("User %(name)s added.", name=form.get("username", "").strip()), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/roles")
def change_roles(username: str) -> Any:
    """Replace a user's roles."""
    session = db()
    try:
        with session.begin():
            set_roles(session, username, checked_roles())
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(_("Roles of %(name)s changed.", name=username), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/token")
def new_token(username: str) -> Any:
    """Issue an API token for a user and show it once."""
    session = db()
    try:
        with session.begin():
            token = issue_token(session, username)
    except AccountError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.users"))
    return users_page(token=(username, token))


@bp.post("/users/<username>/tokens/<int(max=2147483647):token_id>/revoke")
def revoke_user_token(username: str, token_id: int) -> Any:
    """Revoke one of a user's API tokens; it stops working at once."""
    session = db()
    try:
        with session.begin():
            revoke_token(session, token_id, username)
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(_("Token %(id)s of %(name)s revoked.", id=token_id, name=username), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/disable", defaults={"active": False})
@bp.post("/users/<username>/enable", defaults={"active": True})
def set_user_active(username: str, active: bool) -> Any:
    """Enable or disable an account; disabling ends its sessions and stops its tokens."""
    session = db()
    try:
        with session.begin():
            set_active(session, username, active)
    except AccountError as error:
        flash(str(error), "error")
    else:
        done = (
            _("User %(name)s enabled.", name=username)
            if active
            else _("User %(name)s disabled: signed out everywhere.", name=username)
        )
        flash(done, "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/password")
def reset_password(username: str) -> Any:
    """Give a user a new password (one that meets the policy); the user's sessions end."""
    session = db()
    try:
        with session.begin():
            set_password(session, username, request.form.get("password", ""))
    except AccountError as error:
        flash(str(error), "error")
    else:
        flash(_("Password of %(name)s changed: signed out everywhere.", name=username), "info")
    return redirect(url_for("admin.users"))


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
