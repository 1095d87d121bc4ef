"""The start page, the role-aware navigation and the language switch."""

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from .auth import safe_next
from .i18n import LANGUAGE_COOKIE, LANGUAGES

bp = Blueprint("home", __name__)

# (endpoint, label, roles that see it); entries of areas not installed are left out.
NAVIGATION = (
    ("tasks.task_list", _l("Tasks"), ("clerk", "supervisor")),
    ("tasks.counter", _l("Start at the counter"), ("clerk", "supervisor")),
    ("tasks.supervisor", _l("Office queue"), ("supervisor",)),
    ("visits.desk", _l("Today's bookings"), ("clerk", "supervisor")),
    ("portal.index", _l("My applications"), ("applicant",)),
    ("portal.consents", _l("Consent requests"), ("applicant",)),
    ("visits.index", _l("Book a visit"), ("applicant",)),
    ("portal.outbox_page", _l("SMS outbox (demo)"), ("applicant",)),
    ("processes.index", _l("Processes"), ("process_owner", "administrator")),
    ("instances.index", _l("Instances"), ("analyst", "administrator", "process_owner")),
    ("analytics.index", _l("Analytics"), ("analyst", "supervisor", "administrator")),
    ("admin.index", _l("Administration"), ("administrator",)),
)


ROLE_LABELS = {
    "clerk": _l("clerk"),
    "supervisor": _l("supervisor"),
    "process_owner": _l("process owner"),
    "analyst": _l("analyst"),
    "administrator": _l("administrator"),
    "applicant": _l("applicant"),
    "owner": _l("owner"),
    "system": _l("system"),
}


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    """Return the name of a role in the interface language."""
    return str(ROLE_LABELS.get(role, role))


@bp.app_template_filter("initials")
def initials(name: str) -> str:
    """Return the first letters of a name's first two words, for the account button."""
    return "".join(word[0] for word in name.split()[:2]).upper()


# Pages that belong to a menu entry without being its target.
SECTION_OF = {
    "tasks.task_page": "tasks.task_list",
    "tasks.complete": "tasks.task_list",
    "tasks.refuse": "tasks.task_list",
    "portal.apply": "portal.index",
    "portal.sign": "portal.index",
    "portal.application": "portal.index",
    "portal.consent": "portal.consents",
}


def navigation() -> list[tuple[str, str, bool]]:
    """Return the signed-in user's menu as (url, label, is current) triples."""
    if not current_user.is_authenticated:
        return []
    here = SECTION_OF.get(request.endpoint or "", request.endpoint)
    items = []
    for endpoint, label, roles in NAVIGATION:
        if endpoint in current_app.view_functions and current_user.has_any(*roles):
            items.append((url_for(endpoint), str(label), here == endpoint))
    return items


@bp.app_context_processor
def inject_navigation() -> dict[str, Any]:
    """Make the menu available to every template."""
    return {"navigation": navigation}


@bp.get("/")
@login_required
def index() -> Any:
    """Send the user to their main page, or list what they may open."""
    if current_user.has_any("clerk", "supervisor"):
        return redirect(url_for("tasks.task_list"))
    if current_user.has_any("applicant") and "portal.index" in current_app.view_functions:
        return redirect(url_for("portal.index"))
    return render_template("home.html", items=navigation())


@bp.post("/language")
def set_language() -> Any:
    """Remember the chosen language in a cookie and go back."""
    response = redirect(safe_next(request.form.get("next"), url_for("home.index")))
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response
