"""Rate limits on sign-in, one-time codes and the API (the `limits` library, memory or Redis).

The limits are kept per app: each app gets its own storage, in memory unless
`TIRKEU_RATELIMIT_STORAGE` names a shared store (`redis://host:6379/0`), which several web
processes need to count together. Each limit is parsed once, when the app is made, and a
request spends one storage call per limit: an API call runs this, and resolving limits per
request (as Flask-Limiter does) cost more than the rest of the call's edge together.
"""

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from flask import Flask, Response, request
from flask_babel import lazy_gettext as _l
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .errors import error_response

# Pages that check a password: signing in, and changing one's password.
SIGN_IN_ENDPOINTS = ("auth.login", "auth.password")
# Any page that sends or checks a one-time code or a signature has "code" or "verify" in a
# path segment of its rule.
CODE_MARKERS = ("code", "verify")
# Blueprints whose callers present a bearer token; its failures are limited per address,
# since a guesser's every token is new and limits keyed by token never count twice.
BEARER_BLUEPRINTS = ("api", "metrics")
# Only requests that change something spend a page's limit.
WRITES = ("POST", "PUT", "PATCH", "DELETE")
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


def client_address() -> str:
    """Return the address limits are kept by (the proxies' one when they are trusted)."""
    return request.remote_addr or "127.0.0.1"


def api_caller() -> str:
    """Key API calls by their bearer token (hashed), or by address when there is none."""
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return client_address()


def too_many_requests(limit_ends_at: float) -> tuple[Any, int, dict[str, str]]:
    """Answer a request over its limit with 429 and in how many seconds to come back."""
    body, status = error_response(
        429, str(_l("Too many attempts. Wait a minute and try again.")), "too_many_requests"
    )
    return body, status, {"Retry-After": str(max(int(limit_ends_at - time.time()) + 1, 1))}


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


class RateLimits:
    """The app's limits and their counts; `enabled` may be turned off (browser tours)."""

    def __init__(self, app: Flask) -> None:
        storage = app.config.get("RATELIMIT_STORAGE_URI") or os.environ.get(
            "TIRKEU_RATELIMIT_STORAGE", "swept-memory://"
        )
        self.strategy = FixedWindowRateLimiter(storage_from_string(storage))
        self.enabled = bool(app.config.get("RATELIMIT_ENABLED", True))
        self.calls = parse_many(setting(app, "RATELIMIT_API"))
        self.failures = parse_many(setting(app, "RATELIMIT_BEARER_FAILURES"))

    def spend(self, limits: Iterable[RateLimitItem], *identifiers: str) -> Any:
        """Count a request against each limit; answer 429 when one is over."""
        for limit in limits:
            if not self.strategy.hit(limit, *identifiers):
                ends = self.strategy.get_window_stats(limit, *identifiers).reset_time
                return too_many_requests(ends)
        return None

    def check_bearer(self) -> Any:
        """Refuse a bearer call over its limits before anything else reads it; count it."""
        if not self.enabled or request.blueprint not in BEARER_BLUEPRINTS:
            return None
        address = client_address()
        for limit in self.failures:
            if not self.strategy.test(limit, "failures", address):
                ends = self.strategy.get_window_stats(limit, "failures", address).reset_time
                return too_many_requests(ends)
        if request.blueprint == "api":
            return self.spend(self.calls, "api", api_caller())
        return None

    def count_failure(self, response: Response) -> Response:
        """Count a refused bearer token against the caller's address."""
        refused = response.status_code == 401 and request.blueprint in BEARER_BLUEPRINTS
        if self.enabled and refused:
            for limit in self.failures:
                self.strategy.hit(limit, "failures", client_address())
        return response

    def guard(self, view: Callable, endpoint: str, limit: str) -> Callable:
        """Return the view with its changing requests limited per address."""
        items = parse_many(limit)

        @wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if self.enabled and request.method in WRITES:
                refused = self.spend(items, endpoint, client_address())
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        return limited


def init_app(app: Flask) -> RateLimits:
    """Give the app its limits; call it after every blueprint is registered."""
    limits = RateLimits(app)
    for endpoint in SIGN_IN_ENDPOINTS:
        limit_view(app, limits, endpoint, setting(app, "RATELIMIT_SIGNIN"))
    for endpoint in code_endpoints(app):
        limit_view(app, limits, endpoint, setting(app, "RATELIMIT_CODES"))
    app.before_request(limits.check_bearer)
    app.after_request(limits.count_failure)
    app.extensions["tirkeu_limiter"] = limits
    return limits


def limit_view(app: Flask, limits: RateLimits, endpoint: str, limit: str) -> None:
    """Put a limit on one endpoint's changing requests."""
    view = app.view_functions.get(endpoint)
    if view is not None:
        app.view_functions[endpoint] = limits.guard(view, endpoint, limit)
