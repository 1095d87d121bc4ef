"""Serve the web application with granian, beside an in-process worker for due jobs."""

import logging
import multiprocessing
from functools import partial

from flask import Flask
from granian import Granian
from granian.constants import Interfaces

from webapp.garbage import collect_seldom
from webapp.runtime.engine import Runtime
from webapp.settings import Settings
from webapp.worker import JobWorker

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Granian's own notes (workers started, stopped) go to the product's log, not to its stdout.
GRANIAN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"_granian": {"propagate": True}},
}


def configure_logging(level: int = logging.INFO) -> None:
    """Write the product's log to standard error: access lines, errors, the worker's notes.

    Set up before gunicorn forks, its worker processes inherit it; granian's web process sets
    it up again. Records are masked when they are made (`webapp.logmask`), whatever handler
    writes them.
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


def served_app(settings: Settings) -> Flask:
    """Build the app in granian's web process, its log set up as this one's."""
    from . import create_app

    configure_logging()
    app = create_app(settings)
    collect_seldom()
    return app


def serve(
    settings: Settings,
    runtime: Runtime,
    host: str,
    port: int,
    threads: int,
) -> None:
    """Serve until stopped: granian's one web process of `threads` threads, and the due jobs
    swept by a worker thread in this process.

    Granian parses HTTP in Rust: on a small instance the server costs a tenth less CPU than
    waitress did. Its web process is spawned, not forked, so that it shares nothing with the
    worker thread here. A web process that dies is started again. The app refuses a body over
    its limit before reading it (`bodies`).
    """
    multiprocessing.set_start_method("spawn", force=True)
    server = Granian(
        "webapp.web:create_app",  # granian's name for the target; `served_app` builds it
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        websockets=False,
        log_dictconfig=GRANIAN_LOGGING,
        respawn_failed_workers=True,
    )
    collect_seldom()
    job_worker = JobWorker(runtime)
    job_worker.start()
    log.info("serving on http://%s:%s", host, port)
    try:
        server.serve(target_loader=partial(served_app, settings), wrap_loader=False)
    finally:
        job_worker.stop()
