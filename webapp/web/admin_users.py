"""Administration of users: roles, service centre, state, passwords and API tokens."""

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.accounts import (
    ROLES,
    AccountError,
    create_user,
    issue_token,
    revoke_token,
    set_active,
    set_centre,
    set_password,
    set_roles,
    tokens_of,
)
from webapp.centres import centre_names
from webapp.db.accounts import User

from .admin import bp
from .database import db


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
        "admin/users.html",
        users=people,
        roles=ROLES,
        centres=centre_names(str(get_locale())),
        tokens=tokens,
        token=token,
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
                centre=form.get("centre") or None,
            )
    except AccountError as error:
        flash(str(error), "error")
        return users_page(), 422
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


@bp.post("/users/<username>/centre")
def change_centre(username: str) -> Any:
    """Set the service centre a user works at, or none; an unknown centre is refused (422)."""
    session = db()
    try:
        with session.begin():
            set_centre(session, username, request.form.get("centre") or None)
    except AccountError as error:
        flash(str(error), "error")
        return users_page(), 422
    flash(_("Centre of %(name)s changed.", name=username), "info")
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
