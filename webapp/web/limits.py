"""Rate limits on sign-in, one-time codes and the API (Flask-Limiter, memory or Redis storage).

The limits are kept per app: each app gets its own limiter and storage, in memory unless
`TIRKEU_RATELIMIT_STORAGE` names a shared store (`redis://host:6379/0`), which several web
processes need to count together.
"""

import hashlib
import os
from typing import Any

from flask import Flask, Response, request
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

from .errors import error_response

# Pages that check a password: signing in, and changing one's password.
SIGN_IN_ENDPOINTS = ("auth.login", "auth.password")
# Any page that sends or checks a one-time code or a signature has "code" or "verify" in a
# path segment of its rule.
CODE_MARKERS = ("code", "verify")
# Blueprints whose callers present a bearer token; its failures are limited per address,
# since a guesser's every token is new and limits keyed by token never count twice.
BEARER_BLUEPRINTS = ("api", "metrics")
DEFAULTS = {
    "RATELIMIT_SIGNIN": "10 per minute; 100 per hour",
    "RATELIMIT_CODES": "5 per minute; 30 per hour",
    "RATELIMIT_API": "600 per minute",
    "RATELIMIT_BEARER_FAILURES": "20 per minute; 200 per hour",
}


def api_caller() -> str:
    """Key API calls by their bearer token (hashed), or by address when there is none."""
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return get_remote_address()


def refused_credentials(response: Response) -> bool:
    """Tell whether a response refused the caller's credentials, which counts as a failure."""
    return response.status_code == 401


def too_many_requests(error: RateLimitExceeded) -> tuple[Response | str, int]:
    """Answer a request over its limit with 429 and when to come back."""
    body, status = error_response(
        429, str(_l("Too many attempts. Wait a minute and try again.")), "too_many_requests"
    )
    return body, status


def code_endpoints(app: Flask) -> list[str]:
    """Return the endpoints of the pages that send or check one-time codes."""
    found = set()
    for rule in app.url_map.iter_rules():
        segments = rule.rule.lower().split("/")
        named = [segment for segment in segments if "<" not in segment]
        if any(marker in segment for segment in named for marker in CODE_MARKERS):
            found.add(rule.endpoint)
    return sorted(found)


def setting(app: Flask, name: str) -> str:
    """Return a limit from the app's configuration, the environment, or the default."""
    return app.config.get(name) or os.environ.get(f"TIRKEU_{name}") or DEFAULTS[name]


def init_app(app: Flask) -> Limiter:
    """Give the app its limiter; call it after every blueprint is registered."""
    storage = app.config.get("RATELIMIT_STORAGE_URI") or os.environ.get(
        "TIRKEU_RATELIMIT_STORAGE", "memory://"
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage, default_limits=[])
    writes = ("POST", "PUT", "PATCH", "DELETE")
    for endpoint in SIGN_IN_ENDPOINTS:
        limit_view(app, limiter, endpoint, setting(app, "RATELIMIT_SIGNIN"), writes)
    for endpoint in code_endpoints(app):
        limit_view(app, limiter, endpoint, setting(app, "RATELIMIT_CODES"), writes)
    api = app.blueprints.get("api")
    if api is not None:
        limiter.limit(setting(app, "RATELIMIT_API"), key_func=api_caller)(api)
    failures = limiter.shared_limit(
        setting(app, "RATELIMIT_BEARER_FAILURES"),
        scope="bearer_failures",
        deduct_when=refused_credentials,
    )
    for name in BEARER_BLUEPRINTS:
        if name in app.blueprints:
            failures(app.blueprints[name])
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    # The limit decorators hold the limiter weakly: the app keeps it alive.
    app.extensions["tirkeu_limiter"] = limiter
    return limiter


def limit_view(
    app: Flask, limiter: Limiter, endpoint: str, limit: str, methods: tuple[str, ...]
) -> Any:
    """Put a limit on one endpoint's changing requests."""
    view = app.view_functions.get(endpoint)
    if view is not None:
        app.view_functions[endpoint] = limiter.limit(limit, methods=list(methods))(view)
