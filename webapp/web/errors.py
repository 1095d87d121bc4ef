"""Errors as responses: HTML pages for people, JSON under /api, in one place."""

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from webapp import logmask
from webapp.runtime.errors import TirkeuError, field_errors

from .access import request_id

TITLES = {
    400: _l("Bad request"),
    401: _l("Sign-in required"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Request too large"),
    422: _l("Invalid data"),
    500: _l("Something went wrong"),
}
MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to continue."),
    403: _l("Your roles do not allow this page or action."),
    404: _l("There is nothing at this address."),
    405: _l("This address does not accept that kind of request."),
    409: _l("Someone else changed this in the meantime. Reload and try again."),
    422: _l("Some of the data is not valid."),
    500: _l("The error has been recorded. Try again in a moment."),
}
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    422: "invalid_data",
    500: "internal_error",
}


def wants_json() -> bool:
    """Tell whether the request is an API call, answered in JSON."""
    return request.path.startswith("/api/")


def error_response(
    status: int, message: str | None = None, code: str | None = None, errors: dict | None = None
) -> tuple[Response | str, int]:
    """Return the error as JSON for the API or as a page for people."""
    code = code or CODES.get(status, "error")
    text = message or str(MESSAGES.get(status, MESSAGES[500]))
    if wants_json():
        document = {"error": code, "message": text, "errors": errors or {}}
        if status >= 500:
            document["request_id"] = request_id()
        response = jsonify(document)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="tirkeu"'
        return response, status
    title = TITLES.get(status, TITLES[500])
    page = render_template(
        "errors/error.html",
        status=status,
        title=title,
        message=text,
        request_id=request_id() if status >= 500 else None,
    )
    return page, status


def handle_tirkeu_error(error: TirkeuError) -> tuple[Response | str, int]:
    """Answer a runtime error with its own status and message."""
    return error_response(error.status, error.message, error.code, field_errors(error))


def handle_csrf_error(_error: CSRFError) -> tuple[Response | str, int]:
    """Answer a missing or stale CSRF token."""
    message = str(_l("The form has expired or was not sent from this site. Reload the page."))
    return error_response(400, message, "csrf_failed")


def handle_http_error(error: HTTPException) -> tuple[Response | str, int]:
    """Answer an HTTP error with our page or JSON."""
    status = error.code or 500
    message = None
    if wants_json() and error.description and status not in (404, 405, 500):
        message = error.description
    return error_response(status, message)


def handle_too_large(_error: RequestEntityTooLarge) -> tuple[Response | str, int]:
    """Answer a body over the route's limit, which Werkzeug refused before reading it."""
    message = _l(
        "The request is larger than the %(limit)s bytes this address accepts.",
        limit=request.max_content_length,
    )
    return error_response(413, str(message))


def handle_unexpected(error: Exception) -> tuple[Response | str, int]:
    """Answer an unforeseen exception with a 500, after logging it."""
    original = getattr(error, "original_exception", None) or error
    current_app.logger.error(
        "request %s %s %s failed",
        request_id(),
        request.method,
        logmask.mask(request.path),
        exc_info=original,
    )
    return error_response(500)


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(TirkeuError, handle_tirkeu_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
    app.register_error_handler(InternalServerError, handle_unexpected)
