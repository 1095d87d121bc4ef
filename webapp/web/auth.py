"""Sign-in with Flask-Login, the signed-in user, and the role check for views."""

from collections.abc import Callable
from dataclasses import dataclass
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from webapp.accounts import Account, authenticate, user_for_token
from webapp.db.accounts import User
from webapp.db.base import utcnow
from webapp.privacy import Privacy, View

from .database import db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


@dataclass(frozen=True)
class SignedInUser(UserMixin, Account):
    """The signed-in user as views see it: detached from any database session."""

    @classmethod
    def of(cls, user: User | Account) -> "SignedInUser":
        """Return the view of a stored user."""
        return cls(user.id, user.username, user.full_name, user.iin, user.roles)

    @property
    def display_name(self) -> str:
        """Return the name to show in the header."""
        return self.full_name or self.username

    def has_any(self, *roles: str) -> bool:
        """Tell whether the user holds at least one of the roles."""
        return bool(self.roles.intersection(roles))


@login_manager.user_loader
def load_user(user_id: str) -> SignedInUser | None:
    """Return the signed-in user from the session cookie's id."""
    session = db()
    with session.begin():
        user = session.get(User, int(user_id))
        return SignedInUser.of(user) if user is not None and user.active else None


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
    session = db()
    with session.begin():
        user = user_for_token(session, token.strip())
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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the sign-in form and sign the user in."""
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        session = db()
        with session.begin():
            user = authenticate(session, username, request.form.get("password", ""), utcnow())
            signed_in = SignedInUser.of(user) if user is not None else None
        if signed_in is not None:
            login_user(signed_in)
            return redirect(safe_next(request.args.get("next"), url_for("home.index")))
        flash(
            _(
                "The user name or password is wrong, or the account is locked after too many "
                "attempts. Try again later."
            ),
            "error",
        )
        return render_template("auth/login.html", username=username), 401
    return render_template("auth/login.html", username=username)


@bp.post("/logout")
def logout() -> Any:
    """Sign the user out."""
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


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
