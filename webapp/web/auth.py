"""Sign-in with Flask-Login, sessions that end, the signed-in user, and the role check for views.

A session cookie names the user and the user's session generation; raising the generation
(signing out, a new password, disabling the account) ends every copy of the cookie at once.
A session also ends after `SESSION_IDLE_MINUTES` without a request and `SESSION_LIFETIME_HOURS`
after signing in. There are no remember-me cookies.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from webapp.accounts import (
    Account,
    AccountError,
    SignInThrottled,
    authenticate,
    change_password,
    end_sessions,
    remembered_user,
    user_for_token,
)
from webapp.db.accounts import User
from webapp.db.base import utcnow
from webapp.privacy import Privacy, View

from .database import db, engine

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
SIGNED_IN_AT = "_signed_in_at"
SEEN_AT = "_seen_at"
# Requests closer together than this do not rewrite the cookie to note the time.
SEEN_RESOLUTION = 60


@dataclass(frozen=True)
class SignedInUser(UserMixin, Account):
    """The signed-in user as views see it: detached from any database session."""

    session_generation: int = 0

    @classmethod
    def of(cls, user: User | Account, session_generation: int = 0) -> "SignedInUser":
        """Return the view of a stored user (a token's user needs no session generation)."""
        return cls(user.id, user.username, user.full_name, user.iin, user.roles, session_generation)

    def get_id(self) -> str:
        """Return what the session cookie keeps: the user's id and session generation."""
        return f"{self.id}:{self.session_generation}"

    @property
    def display_name(self) -> str:
        """Return the name to show in the header."""
        return self.full_name or self.username

    def has_any(self, *roles: str) -> bool:
        """Tell whether the user holds at least one of the roles."""
        return bool(self.roles.intersection(roles))


@login_manager.user_loader
def load_user(cookie_id: str) -> SignedInUser | None:
    """Return the signed-in user of a session cookie still valid: active, same generation."""
    user_id, _colon, generation = cookie_id.partition(":")
    if not (user_id.isdigit() and generation.isdigit()):
        return None
    session = db()
    with session.begin():
        user = session.get(User, int(user_id))
        if user is None or not user.active or user.session_generation != int(generation):
            return None
        return SignedInUser.of(user, user.session_generation)


def client_address() -> str:
    """Return the client's address (the proxies' X-Forwarded-For only when trusted)."""
    return request.remote_addr or ""


def start_session(user: SignedInUser) -> None:
    """Sign the user in with a fresh session clock."""
    login_user(user)
    now = int(time.time())
    web_session[SIGNED_IN_AT] = web_session[SEEN_AT] = now


def forget_session() -> None:
    """Drop the signed-in user and the session clock from the cookie."""
    logout_user()
    web_session.pop(SIGNED_IN_AT, None)
    web_session.pop(SEEN_AT, None)


@bp.before_app_request
def end_stale_session() -> None:
    """Sign out a session idle too long or signed in too long ago; note this request's time."""
    if "_user_id" not in web_session:
        return
    now = int(time.time())
    config = current_app.config
    seen = web_session.get(SEEN_AT, 0)
    idle = now - seen > int(config["SESSION_IDLE_MINUTES"]) * 60
    old = now - web_session.get(SIGNED_IN_AT, 0) > int(config["SESSION_LIFETIME_HOURS"]) * 3600
    if idle or old:
        forget_session()
        flash(_("Your session has ended. Sign in again."), "info")
    elif now - seen >= SEEN_RESOLUTION:
        web_session[SEEN_AT] = now


def authenticate_bearer() -> bool:
    """Take the caller from an `Authorization: Bearer TOKEN` header into `g.api_user`.

    Return False when the request has no such header; answer 401 for a malformed or unknown
    token.
    """
    header = request.headers.get("Authorization", "")
    if not header:
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401)
    token = token.strip()
    # A token known from a call moments ago is answered without a session or the database.
    user = remembered_user(engine(), token)
    if user is None:
        session = db()
        user = user_for_token(session, token)
        if session.in_transaction():
            session.commit()
    g.api_user = SignedInUser.of(user) if user is not None else None
    if g.api_user is None:
        abort(401)
    return True


def acting_user() -> Any:
    """Return who makes this request: the bearer token's user for API calls, else the session's."""
    return g.get("api_user") or current_user


def personal_view() -> View:
    """Return what the acting user may see of people's data, by their roles."""
    return current_app.extensions["tirkeu_privacy"].view(getattr(acting_user(), "roles", ()))


def role_required(*roles: str) -> Callable:
    """Let a view run only for signed-in users holding one of the roles."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = acting_user()
            if not user.is_authenticated:
                return login_manager.unauthorized()
            if not user.has_any(*roles):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


def safe_next(target: str | None, default: str) -> str:
    """Return the target if it is a path on this site, else the default."""
    if not target:
        return default
    parts = urlsplit(target)
    # Browsers read a backslash as a slash, so "/\\host" would leave the site.
    leaves = parts.scheme or parts.netloc or target.startswith("//") or "\\" in target
    return default if leaves or not target.startswith("/") else target


def throttled(error: SignInThrottled, template: str, context: dict[str, Any]) -> Any:
    """Answer 429 with the page again, saying how long this client must wait."""
    flash(
        _(
            "Too many failed sign-ins from this address. Try again in %(seconds)s seconds.",
            seconds=error.retry_after,
        ),
        "error",
    )
    body = render_template(template, **context)
    return body, 429, {"Retry-After": str(error.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the sign-in form and sign the user in."""
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        session = db()
        try:
            with session.begin():
                user = authenticate(
                    session,
                    username,
                    request.form.get("password", ""),
                    utcnow(),
                    client_address(),
                )
                signed_in = SignedInUser.of(user, user.session_generation) if user else None
        except SignInThrottled as error:
            return throttled(error, "auth/login.html", {"username": username})
        if signed_in is not None:
            start_session(signed_in)
            return redirect(safe_next(request.args.get("next"), url_for("home.index")))
        flash(_("The user name or password is wrong."), "error")
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username=username)


@bp.post("/logout")
def logout() -> Any:
    """Sign the user out, ending every session of the account, wherever its cookie is."""
    if current_user.is_authenticated:
        session = db()
        with session.begin():
            end_sessions(session, current_user.id)
    forget_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change one's own password, giving the current one; the other sessions end."""
    if request.method == "GET":
        return render_template("auth/password.html")
    form = request.form
    if form.get("new_password", "") != form.get("confirm_password", ""):
        flash(_("New password: the two entries differ."), "error")
        return render_template("auth/password.html"), 400
    session = db()
    try:
        with session.begin():
            user = change_password(
                session,
                current_user.username,
                form.get("current_password", ""),
                form.get("new_password", ""),
                utcnow(),
                client_address(),
            )
            signed_in = SignedInUser.of(user, user.session_generation)
    except SignInThrottled as error:
        return throttled(error, "auth/password.html", {})
    except AccountError as error:
        flash(_("Password: %(reason)s.", reason=str(error)), "error")
        return render_template("auth/password.html"), 400
    # The new generation ended every session, this one too: it goes on under the new one.
    login_user(signed_in)
    flash(_("Your password is changed; your other sessions have ended."), "info")
    return redirect(url_for("home.index"))


def init_app(app: Flask) -> None:
    """Install Flask-Login and the policy of what each role sees of people's data."""
    app.extensions["tirkeu_privacy"] = Privacy.from_secret(
        app.config.get("PSEUDONYM_KEY"), app.config["SECRET_KEY"]
    )
    app.add_template_filter(lambda text: personal_view().text(text or ""), "personal")
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    # Flask refuses a session cookie signed longer ago than this, whatever it holds.
    lifetime = timedelta(hours=int(app.config["SESSION_LIFETIME_HOURS"]))
    app.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    # Sign-in never asks Flask-Login to remember anyone; should a remember cookie ever be
    # set, it lasts no longer than a session and carries the session cookie's flags.
    app.config.update(
        REMEMBER_COOKIE_DURATION=lifetime,
        REMEMBER_COOKIE_SECURE=bool(app.config["HTTPS"]),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
