"""The PostgreSQL pool: a connection back soon is used as it is, one idle a while is checked."""

from sqlalchemy import text

from webapp.db.session import make_engine


def backend(engine) -> int:
    """Return the server process behind a checked-out connection."""
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_back_within_the_idle_time_is_not_pinged(postgres_url, monkeypatch):
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    first = backend(engine)
    pinged = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi: pinged.append(1) or ping(dbapi))
    for _ in range(5):
        assert backend(engine) == first
    assert pinged == []
    engine.dispose()


def test_a_connection_the_server_closed_while_idle_is_replaced(postgres_url, monkeypatch):
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    first = backend(engine)
    admin = make_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    # The pooled connection has waited past the idle time: its checkout pings and finds it dead.
    monkeypatch.setattr("webapp.db.session.time.monotonic", lambda: 10**9)
    pinged = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda dbapi: pinged.append(1) or ping(dbapi))
    second = backend(engine)
    assert second != first
    assert pinged
    engine.dispose()
