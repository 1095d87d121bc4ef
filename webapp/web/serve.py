"""Serve the web application with waitress, beside an in-process worker for due jobs."""

import logging

from flask import Flask
from waitress.server import create_server

from webapp.worker import JobWorker

from .bodies import largest_limit

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Write the product's log to standard error: access lines, errors, the worker's notes.

    Set up before gunicorn forks, its worker processes inherit it. Records are masked when
    they are made (`webapp.logmask`), whatever handler writes them.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    # SpiffWorkflow notes every task's change of state at INFO, and httpx every registry call:
    # the audit log already keeps what matters of them, and writing them costs a fifth of a step.
    for chatty in ("spiff", "httpx"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))


def serve(
    app: Flask, host: str = "127.0.0.1", port: int = 8080, threads: int = 8, worker: bool = True
) -> None:
    """Serve the app until interrupted, with the in-process worker unless told otherwise."""
    job_worker = JobWorker(app.extensions["tirkeu"]) if worker else None
    if job_worker is not None:
        job_worker.start()
    # Waitress reads a whole body before the app sees it: it refuses what no route would take.
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="Tirkeu",
        max_request_body_size=largest_limit(app) + 1,
    )
    log.info("serving on http://%s:%s", host, server.effective_port)
    try:
        server.run()
    finally:
        if job_worker is not None:
            job_worker.stop()
        server.close()
