"""The per-request database session, the engine and the runtime accessor."""

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session


def db() -> Session:
    """Return this request's session, opening it on first use."""
    if "db" not in g:
        g.db = current_app.extensions["tirkeu_sessions"]()
    return g.db


def engine() -> Engine:
    """Return the database engine, for what needs no session (a remembered token)."""
    return current_app.extensions["tirkeu_sessions"].kw["bind"]


def runtime() -> Any:
    """Return the runtime, after ending this request's read transaction.

    On SQLite every transaction takes the write lock when it begins, so a read left open
    here would make the runtime's own transaction wait for it.
    """
    session = g.get("db")
    if session is not None and session.in_transaction():
        session.commit()
    return current_app.extensions["tirkeu"]


def close_db(_exc: BaseException | None = None) -> None:
    """Close this request's session, if one was opened."""
    session = g.pop("db", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Close the session when each request ends."""
    app.teardown_appcontext(close_db)
