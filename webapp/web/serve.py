"""Serve the web application with waitress, beside an in-process worker for due jobs."""

import logging
import threading
from typing import Any

from flask import Flask
from waitress.server import create_server

log = logging.getLogger(__name__)


class JobWorker(threading.Thread):
    """Fire due timers and retries every few seconds until stopped.

    One failing sweep is logged and the loop carries on, so a bad instance never stops the
    others' timers.
    """

    def __init__(self, runtime: Any, interval: float = 5.0):
        super().__init__(name="tirkeu-worker", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.stopped = threading.Event()

    def sweep(self) -> int:
        """Run the due jobs once and return how many ran; log a failure instead of raising."""
        try:
            return self.runtime.run_due_jobs()
        except Exception:
            log.exception("worker sweep failed")
            return 0

    def run(self) -> None:
        """Sweep until stopped."""
        while not self.stopped.is_set():
            self.sweep()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        """Ask the loop to end after the current sweep."""
        self.stopped.set()


def serve(
    app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 8, worker: bool = True
) -> None:
    """Serve the app until interrupted, with the in-process worker unless told otherwise."""
    job_worker = JobWorker(app.extensions["tirkeu"]) if worker else None
    if job_worker is not None:
        job_worker.start()
    server = create_server(app, host=host, port=port, threads=threads, ident="Tirkeu")
    log.info("serving on http://%s:%s", host, server.effective_port)
    try:
        server.run()
    finally:
        if job_worker is not None:
            job_worker.stop()
        server.close()
