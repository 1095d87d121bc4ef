"""The access log: one line per request, with the request id that errors and the 500 page show.

Each request gets an id: the proxy's `X-Request-ID` when it sends a plausible one, else a new
one. The id goes back in the `X-Request-ID` response header, on the access line, on every error
logged while the request runs, and on the error page, so that a person reporting "something
went wrong" can quote it. Paths and query strings are masked (IINs, phone numbers) before they
are written; the line is `<id> <method> <path> <status> <duration> ms`.
"""

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from webapp import logmask

log = logging.getLogger("tirkeu.access")
HEADER = "X-Request-ID"
# What a proxy's id may look like; anything else (too long, odd characters) is replaced.
PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str | None:
    """Return the current request's id (None outside a request)."""
    return g.get("request_id")


def begin() -> None:
    """Give the request its id and note when it began."""
    given = request.headers.get(HEADER, "")
    g.request_id = given if PLAUSIBLE_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    g.request_began = time.perf_counter()


def end(response: Response) -> Response:
    """Write the request's access line and send its id back."""
    began = g.get("request_began")
    elapsed = (time.perf_counter() - began) * 1000 if began is not None else 0.0
    target = request.full_path if request.query_string else request.path
    log.info(
        "%s %s %s %s %.1f ms",
        request_id(),
        request.method,
        logmask.mask(target),
        response.status_code,
        elapsed,
    )
    response.headers[HEADER] = request_id() or ""
    return response


def init_app(app: Flask) -> None:
    """Log every request of the app; register before the other hooks so that it times them."""
    app.before_request(begin)
    app.after_request(end)
