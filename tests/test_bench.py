"""`make bench` stays runnable: the benchmarks behind the throughput targets each measure a few
runs here, in a process of their own as `python -m bench` runs them, and print their figures
(the figures themselves are read from `make bench`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL
from webapp.runtime.levers import ALL

ROOT = Path(__file__).resolve().parents[1]
NEEDS_POSTGRES = pytest.mark.skipif(
    not POSTGRES_URL, reason="TIRKEU_TEST_POSTGRES_URL is not set: PostgreSQL tests run in CI"
)


def bench(module: str, runs: int) -> str:
    """Run one benchmark for a few runs; return what it printed."""
    env = dict(os.environ, TIRKEU_BENCH_DATABASE=POSTGRES_URL or "")
    done = subprocess.run(
        [sys.executable, "-c", f"from bench import {module}; {module}.run(runs={runs})"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_levers_benchmark_times_stock_and_each_lever():
    printed = bench("levers", runs=2)
    for label in ("stock SpiffWorkflow", "every lever", *(f"lever {n} alone" for n in ALL)):
        assert label in printed


def test_the_small_diagram_benchmark_serves_whole_instances_over_http():
    printed = bench("http", runs=3)
    assert "whole instance (create+run, two completions), p50" in printed
    assert "SpiffArena / ours at p50" in printed


@NEEDS_POSTGRES
def test_the_registration_benchmark_sets_the_api_beside_stock():
    printed = bench("registration", runs=2)
    assert "through the API, PostgreSQL" in printed and "Per-request overhead" in printed


@NEEDS_POSTGRES
def test_the_registries_benchmark_times_sqlite_and_postgresql():
    printed = bench("registries", runs=2)
    assert "SQLite" in printed and "PostgreSQL" in printed
    assert "skipped" not in printed


def test_the_command_refuses_a_benchmark_it_does_not_have_and_runs_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "levers", "nonsense"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "no benchmark named nonsense; choose from registration, registries" in done.stderr
