"""CSRF protection, the security headers every response carries, and the cookies' flags."""

import base64
import hashlib

from flask import Blueprint, Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()

# dmn-js draws the bpmn.io watermark, which its licence requires to stay visible, with these
# two style attributes: they alone are allowed, by their hashes; no other inline style is.
WATERMARK_STYLES = (
    "position: absolute; bottom: 15px; right: 15px; z-index: 100;",
    "vertical-align:middle",
)


def style_hash(text: str) -> str:
    """Return the CSP source that allows one exact inline style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_security_policy(connect: str = "") -> str:
    """Return the content security policy, letting scripts also connect to `connect`."""
    sources = f"'self' {connect}".strip()
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"style-src-attr 'unsafe-hashes' {' '.join(map(style_hash, WATERMARK_STYLES))}; "
        "img-src 'self' data:; "
        f"font-src 'self'; connect-src {sources}; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


CONTENT_SECURITY_POLICY = content_security_policy()
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def set_security_headers(response: Response) -> Response:
    """Add the security headers; HSTS only when the request came over HTTPS."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["X-Permitted-Cross-Domain-Policies"] = "none"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure on every response to an HTTPS request.

    With `HTTPS` set (TIRKEU_HTTPS) it is Secure on every response, as Flask's own setting
    does; without it, a site reached over HTTPS still never sends its cookie over HTTP.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Open the request's session; a request without the cookie (API calls) gets an empty one.

        Flask builds the cookie's signing serializer first, which is most of the work; a
        request with no cookies at all is not even parsed for them.
        """
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save the session; an empty one never set needs no cookie's settings worked out."""
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def exempt_blueprint(blueprint: Blueprint) -> None:
    """Leave CSRF checks of a blueprint to itself (the API checks cookie-borne calls)."""
    csrf.exempt(blueprint)


def init_app(app: Flask) -> None:
    """Protect every form with a CSRF token, add the headers, and set the cookies' flags.

    Behind `PROXIES` reverse proxies (TIRKEU_PROXIES) the client's address and scheme are
    taken from their X-Forwarded-For and X-Forwarded-Proto; with none, those headers are
    ignored, since anyone could send them to pass for another address.
    """
    csrf.init_app(app)
    app.after_request(set_security_headers)
    app.session_interface = SessionCookies()
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config["HTTPS"])
    proxies = int(app.config["PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
