"""Request bodies: one size limit for every request, larger ones by route, and strict JSON.

Werkzeug refuses a body whose Content-Length exceeds the limit with a 413 before reading any
of it (the limit is `MAX_CONTENT_LENGTH`, from `TIRKEU_MAX_REQUEST_BYTES`); a route that takes
larger files says so with `body_limit`. Every JSON body is read by the runtime's strict parser,
so NaN, Infinity or deep nesting is a 400 that says why, never a 500.
"""

from collections.abc import Callable
from typing import Any

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from webapp.runtime import inputs


class StrictJsonProvider(DefaultJSONProvider):
    """Flask's JSON, reading every document (bodies, the session) with the strict parser."""

    def loads(self, s: str | bytes) -> Any:
        """Parse a JSON document, or raise ValueError saying why it is refused."""
        return inputs.loads(s)


class StrictJsonRequest(Request):
    """Flask's request, a JSON body it cannot parse refused with the reason."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Answer 400 naming what is wrong with the body (415 when it is not JSON at all)."""
        if e is None:
            return super().on_json_loading_failed(e)
        raise BadRequest(f"the body is not a JSON document this service accepts: {e}") from e


def body_limit(max_bytes: int) -> Callable:
    """Let a view take bodies of up to `max_bytes` instead of the app's limit."""

    def mark(view: Callable) -> Callable:
        view.max_content_length = max_bytes
        return view

    return mark


def apply_route_limit() -> None:
    """Give the request its route's own limit, before anything reads the body."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "max_content_length", None)
    if limit is not None:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    """Limit and parse bodies strictly; call it before any hook that reads a form (CSRF)."""
    app.json = StrictJsonProvider(app)
    app.request_class = StrictJsonRequest
    app.before_request(apply_route_limit)
