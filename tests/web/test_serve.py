"""The production server answers over real HTTP; the worker sweeps and survives failures."""

import threading
import time

import httpx
from waitress.server import create_server

from webapp.web.serve import JobWorker


def test_waitress_serves_the_app_over_http(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        response = httpx.get(f"http://127.0.0.1:{server.effective_port}/login", timeout=5)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
    finally:
        server.close()
        thread.join(timeout=5)


class CountingRuntime:
    def __init__(self):
        self.calls = 0

    def run_due_jobs(self):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("one instance is broken")
        return 2


def test_worker_keeps_sweeping_after_a_failed_sweep():
    runtime = CountingRuntime()
    worker = JobWorker(runtime, interval=0.01)
    worker.start()
    deadline = time.monotonic() + 5
    while runtime.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    worker.join(timeout=5)
    assert runtime.calls >= 3 and not worker.is_alive()
