"""The production server answers over real HTTP; the worker sweeps and survives failures."""

import os
import socket
import subprocess
import sys
import time

import httpx

from webapp.worker import JobWorker


def test_tirkeu_serve_answers_over_real_http(instance_folder):
    """`tirkeu serve` (waitress and its in-process worker) in a process of its own."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TIRKEU_INSTANCE_PATH": str(instance_folder)}
    command = [sys.executable, "-c", "from webapp.cli import main; main()"]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_worker_keeps_sweeping_after_a_failed_sweep(runtime, monkeypatch):
    sweeps = []
    run_due_jobs = runtime.run_due_jobs

    def once_broken(**options) -> int:
        sweeps.append(options)
        if len(sweeps) == 1:
            raise RuntimeError("the database went away")
        return run_due_jobs(**options)

    monkeypatch.setattr(runtime, "run_due_jobs", once_broken)
    worker = JobWorker(runtime, interval=0.01)
    worker.start()
    deadline = time.monotonic() + 5
    while len(sweeps) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    worker.join(timeout=5)
    assert len(sweeps) >= 3 and not worker.is_alive()
