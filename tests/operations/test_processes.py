"""The deployment's processes: a looping worker stops cleanly; settings size the pool."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from webapp.bootstrap import build
from webapp.db.session import make_engine, upgrade
from webapp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_looping_worker_exits_cleanly_on_a_stop_signal(tmp_path, signum):
    url = f"sqlite:///{tmp_path / 'tirkeu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    env = dict(os.environ, TIRKEU_INSTANCE_PATH=str(tmp_path), TIRKEU_DATABASE_URL=url)
    env["PYTHONPATH"] = str(ROOT)
    code = "from webapp.cli import main; main()"
    worker = subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--interval", "0.1"],
        env=env,
        stderr=subprocess.PIPE,
    )
    assert b"sweeping" in worker.stderr.readline()
    time.sleep(0.3)
    worker.send_signal(signum)
    _, errors = worker.communicate(timeout=10)
    assert worker.returncode == 0
    assert b"Traceback" not in errors


def test_pool_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TIRKEU_DB_POOL_SIZE", "7")
    monkeypatch.setenv("TIRKEU_DB_MAX_OVERFLOW", "3")
    settings = Settings.from_env(
        instance_path=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    product = build(settings)
    assert (settings.db_pool_size, settings.db_max_overflow) == (7, 3)
    assert product.engine.pool.size() == 7
    assert product.engine.pool._max_overflow == 3


def test_serve_with_two_workers_answers_over_http_and_stops_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'tirkeu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    env = dict(os.environ, TIRKEU_INSTANCE_PATH=str(tmp_path), TIRKEU_DATABASE_URL=url)
    env["PYTHONPATH"] = str(ROOT)
    port = free_port()
    code = "from webapp.cli import main; main()"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = wait_for(f"http://127.0.0.1:{port}/login")
        assert answer.status_code == 200
        assert "Content-Security-Policy" in answer.headers
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0
    assert errors.count(b"Booting worker") == 2


def free_port() -> int:
    """Return a free port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str) -> httpx.Response:
    """Return the first answer from the URL within thirty seconds."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
