"""The Flask application: factory, runtime wiring and the blueprints of each area."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from webapp import logmask
from webapp.settings import Settings

from . import (
    access,
    admin,
    analytics,
    api,
    auth,
    bodies,
    database,
    errors,
    home,
    i18n,
    labels,
    limits,
    portal,
    process_texts,
    processes,
    receipts,
    security,
    simulation,
    tasks,
    texts,
    ui_messages,
    visits,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COUNTER_SCHEMA = Path("residence_registration") / "application.schema.json"


def _config_from(settings: Any) -> dict[str, Any]:
    """Return Flask configuration from a mapping or from a Settings object."""
    if settings is None:
        settings = Settings.from_env()
    if isinstance(settings, Mapping):
        return dict(settings)
    return {
        "SETTINGS": settings,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "PSEUDONYM_KEY": settings.pseudonym_key,
        "COUNTER_SCHEMA_PATH": str(Path(settings.processes_path) / COUNTER_SCHEMA),
        "MAX_CONTENT_LENGTH": settings.max_request_bytes,
        "SESSION_IDLE_MINUTES": settings.session_idle_minutes,
        "SESSION_LIFETIME_HOURS": settings.session_lifetime_hours,
        "HTTPS": settings.https,
        "PROXIES": settings.proxies,
        "NCALAYER_URL": settings.ncalayer_url,
    }


def init_runtime(app: Flask) -> None:
    """Build the runtime and its session factory once, unless the app was given them.

    The runtime lives in `app.extensions["tirkeu"]` and the session factory in
    `app.extensions["tirkeu_sessions"]`; a `RUNTIME` (and `SESSION_FACTORY`) in the settings
    mapping is used as it is.
    """
    if "tirkeu" in app.extensions:
        return
    runtime = app.config.get("RUNTIME")
    sessions = app.config.get("SESSION_FACTORY")
    if runtime is None:
        from webapp.bootstrap import build

        settings = app.config.get("SETTINGS")
        if settings is None:
            settings = Settings.from_env(
                database_url=app.config["DATABASE_URL"], secret_key=app.config["SECRET_KEY"]
            )
        product = build(settings)
        runtime, sessions = product.runtime, product.session_factory
    if sessions is None:
        from webapp.db.session import make_engine, make_session_factory

        sessions = make_session_factory(make_engine(app.config["DATABASE_URL"]))
    app.extensions["tirkeu"] = runtime
    app.extensions["tirkeu_sessions"] = sessions


def create_app(settings: Any = None) -> Flask:
    """Create the web application from settings (a mapping or a Settings object)."""
    app = Flask(__name__)
    app.config.from_mapping(
        COUNTER_PROCESS_ID="residence_registration",
        COUNTER_SCHEMA_PATH=str(PROJECT_ROOT / "processes" / COUNTER_SCHEMA),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_IDLE_MINUTES=Settings.session_idle_minutes,
        SESSION_LIFETIME_HOURS=Settings.session_lifetime_hours,
        HTTPS=Settings.https,
        PROXIES=Settings.proxies,
        NCALAYER_URL=Settings.ncalayer_url,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_TIMEZONE="Asia/Almaty",
        MAX_CONTENT_LENGTH=Settings.max_request_bytes,
    )
    app.config.update(_config_from(settings))
    access.init_app(app)
    init_runtime(app)
    database.init_app(app)
    i18n.init_app(app)
    bodies.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(home.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(receipts.bp)
    app.register_blueprint(api.bp)
    portal.init_app(app)
    texts.init_app(app)
    labels.init_app(app)
    ui_messages.init_app(app)
    app.register_blueprint(visits.bp)
    app.register_blueprint(analytics.bp)
    app.register_blueprint(analytics.metrics_bp)
    app.register_blueprint(processes.bp)
    app.register_blueprint(process_texts.bp)
    app.register_blueprint(simulation.bp)
    app.register_blueprint(admin.bp)
    security.exempt_blueprint(api.bp)
    logmask.install()
    limits.init_app(app)
    return app
