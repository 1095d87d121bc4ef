"""Serve the web application with gunicorn: several web processes on one shared database."""

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from webapp.garbage import collect_seldom


class GunicornServer(BaseApplication):
    """A gunicorn arbiter whose workers each build their own app (and database pool)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]):
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Take the options given in code instead of gunicorn's command line."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Build the app in the worker after the fork, so no connection crosses processes."""
        app = self.factory()
        collect_seldom()
        return app


def serve_processes(
    factory: Callable[[], Flask], host: str, port: int, workers: int, threads: int
) -> None:
    """Serve until stopped with `workers` processes of `threads` threads each."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "preload_app": False,
        "graceful_timeout": 10,
        "timeout": 60,
        # The application writes its own access log, masked, with request ids (web/access.py).
        "accesslog": None,
        "proc_name": "tirkeu",
    }
    GunicornServer(factory, options).run()
