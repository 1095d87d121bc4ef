"""Long-running processes collect garbage seldom, and never over what they set up."""

import gc

import pytest
from click.testing import CliRunner

from webapp import worker
from webapp.cli import main
from webapp.garbage import THRESHOLDS, fewer_collections
from webapp.web.gunicorn_app import GunicornServer
from webapp.web.serve import served_app

from .conftest import settings_for


@pytest.fixture
def interpreter_collector():
    """Put the interpreter's collector back as it was after the test."""
    previous = gc.get_threshold()
    yield
    gc.set_threshold(*previous)
    gc.unfreeze()


def collects_seldom() -> bool:
    """Tell whether the collector runs at the product's thresholds, set-up objects frozen."""
    return gc.get_threshold() == THRESHOLDS and gc.get_freeze_count() > 0


def test_a_block_collects_seldom_and_puts_the_collector_back(interpreter_collector):
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert collects_seldom()
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_granians_web_process_collects_seldom_once_its_app_is_built(
    instance_folder, interpreter_collector
):
    gc.set_threshold(700, 10, 10)
    app = served_app(settings_for(instance_folder))
    try:
        assert collects_seldom()
    finally:
        app.extensions["tirkeu_sessions"].kw["bind"].dispose()


def test_a_gunicorn_web_process_collects_seldom_once_its_app_is_built(app, interpreter_collector):
    gc.set_threshold(700, 10, 10)
    server = GunicornServer(lambda: app, {"bind": "127.0.0.1:0", "workers": 2})
    assert server.load() is app
    assert collects_seldom()


def test_the_worker_loop_collects_seldom(instance_folder, monkeypatch, interpreter_collector):
    gc.set_threshold(700, 10, 10)
    seen = []
    monkeypatch.setattr(worker.JobWorker, "run", lambda self: seen.append(collects_seldom()))
    result = CliRunner().invoke(main, ["worker", "--interval", "1"])
    assert result.exit_code == 0, result.output
    assert seen == [True]
