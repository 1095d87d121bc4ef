"""Rate limits on sign-in, one-time codes and the API (Flask-Limiter, memory or Redis storage).

The limits are kept per app: each app gets its own limiter and storage, in memory unless
`TIRKEU_RATELIMIT_STORAGE` names a shared store (`redis://host:6379/0`), which several web
processes need to count together.

Pages are limited by Flask-Limiter's decorators. Calls with a bearer token (the API, the
metrics) are limited on the same storage and strategy, but with limits parsed once: Flask-Limiter
resolves and parses a view's limits again on every request, which cost more than the rest of an
API call's edge together.
"""

import hashlib
import os
import time
from typing import Any

from flask import Flask, Response, request
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import RateLimiter

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


class SweptMemoryStorage(MemoryStorage):
    """The `limits` memory storage without a new thread every 10 ms (what `memory://` does).

    A counter past its window is dropped when it is read, as in the stock storage; the stock
    one also starts a timer thread after each count to sweep such counters, which on a busy
    API cost more than the count. Here the counting request sweeps them, once a minute.
    """

    STORAGE_SCHEME = ["swept-memory"]
    SWEEP_SECONDS = 60.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.swept_at = time.time()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add to a counter, starting its window if it has none; sweep now and then."""
        now = time.time()
        if now - self.swept_at >= self.SWEEP_SECONDS:
            self.sweep(now)
        self.get(key)
        with self.locks[key]:
            self.storage[key] += amount
            if self.storage[key] == amount:
                self.expirations[key] = now + expiry
        return self.storage.get(key, 0)

    def sweep(self, now: float) -> None:
        """Drop every counter whose window has ended."""
        self.swept_at = now
        for key, ends in list(self.expirations.items()):
            if ends <= now:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)


def api_caller() -> str:
    """Key API calls by their bearer token (hashed), or by address when there is none."""
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return get_remote_address()


def too_many_requests(_error: RateLimitExceeded | None = None) -> tuple[Response | str, int]:
    """Answer a request over its limit with 429 (Flask-Limiter adds when to come back)."""
    body, status = error_response(
        429, str(_l("Too many attempts. Wait a minute and try again.")), "too_many_requests"
    )
    return body, status


class BearerLimits:
    """The limits of calls with a bearer token: per token, and on refused tokens per address."""

    def __init__(self, app: Flask, strategy: RateLimiter) -> None:
        self.strategy = strategy
        self.calls = parse_many(setting(app, "RATELIMIT_API"))
        self.failures = parse_many(setting(app, "RATELIMIT_BEARER_FAILURES"))

    def check(self) -> Any:
        """Refuse a call over a limit with 429 before anything else reads it; count it."""
        if request.blueprint not in BEARER_BLUEPRINTS:
            return None
        address = get_remote_address()
        spent = [f for f in self.failures if not self.strategy.test(f, "failures", address)]
        if spent:
            return self.refused(spent[0], "failures", address)
        if request.blueprint == "api":
            caller = api_caller()
            over = [c for c in self.calls if not self.strategy.hit(c, "api", caller)]
            if over:
                return self.refused(over[0], "api", caller)
        return None

    def count_failure(self, response: Response) -> Response:
        """Count a refused bearer token against the caller's address."""
        if response.status_code == 401 and request.blueprint in BEARER_BLUEPRINTS:
            address = get_remote_address()
            for limit in self.failures:
                self.strategy.hit(limit, "failures", address)
        return response

    def refused(self, limit: RateLimitItem, *identifiers: str) -> tuple[Any, int, dict[str, str]]:
        """Answer 429, saying in how many seconds the limit's window ends."""
        body, status = too_many_requests()
        reset = self.strategy.get_window_stats(limit, *identifiers).reset_time
        return body, status, {"Retry-After": str(max(int(reset - time.time()) + 1, 1))}


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
        "TIRKEU_RATELIMIT_STORAGE", "swept-memory://"
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage, default_limits=[])
    writes = ("POST", "PUT", "PATCH", "DELETE")
    for endpoint in SIGN_IN_ENDPOINTS:
        limit_view(app, limiter, endpoint, setting(app, "RATELIMIT_SIGNIN"), writes)
    for endpoint in code_endpoints(app):
        limit_view(app, limiter, endpoint, setting(app, "RATELIMIT_CODES"), writes)
    limiter.request_filter(lambda: request.blueprint in BEARER_BLUEPRINTS)
    if limiter.enabled:
        bearer = BearerLimits(app, limiter.limiter)
        app.before_request(bearer.check)
        app.after_request(bearer.count_failure)
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
