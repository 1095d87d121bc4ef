"""Simulation jobs on each database: one worker per job under its lease, failures recorded."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.simulation.conftest import Clock
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.db.simulation import SimulationJob
from webapp.runtime.engine import Runtime
from webapp.settings import SUMMARY_FIELDS
from webapp.simulation import jobs
from webapp.simulation.report import Request
from webapp.worker import JobWorker

WEEK = Request("review", 2, datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC), 1)


@pytest.fixture
def runtime(database_url) -> Iterator[Runtime]:
    """A runtime on an empty database of either kind, on a clock the test moves."""
    engine = make_engine(database_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    yield Runtime(factory, {}, {}, clock=Clock(), summary_fields=SUMMARY_FIELDS)
    engine.dispose()


def submitted(runtime: Runtime) -> int:
    """Record one simulation of the week and return its id."""
    with runtime.session_factory.begin() as session:
        return jobs.submit(session, WEEK, "owner", runtime.clock())


def state(runtime: Runtime, job_id: int) -> SimulationJob:
    """Return the stored simulation."""
    with runtime.session_factory() as session:
        return session.get(SimulationJob, job_id)


def test_a_claimed_job_is_not_claimed_again_until_its_lease_runs_out(runtime):
    job_id = submitted(runtime)
    assert jobs.claim(runtime, "worker-1") == job_id
    assert jobs.claim(runtime, "worker-2") is None
    runtime.clock.now += jobs.LEASE + timedelta(seconds=1)
    # The first worker died: its lease ran out, so another takes the job over.
    assert jobs.claim(runtime, "worker-2") == job_id
    assert state(runtime, job_id).locked_by == "worker-2"


def test_two_workers_claiming_at_once_get_one_job_once(runtime):
    job_id = submitted(runtime)
    start, claimed = threading.Barrier(2), []

    def take(worker: str) -> None:
        start.wait()
        claimed.append(jobs.claim(runtime, worker))

    threads = [threading.Thread(target=take, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed, key=str) == [job_id, None]


def test_a_failing_job_keeps_its_error_and_the_sweeps_carry_on_without_running_it_twice(runtime):
    first, second = submitted(runtime), submitted(runtime)
    worker = JobWorker(runtime, identity="worker-1")
    worker.sweep()
    failed = state(runtime, first)
    assert failed.status == "failed" and failed.locked_by is None
    assert failed.error == "from: no application of this process started in the period"
    assert state(runtime, second).status == "pending"
    worker.sweep()
    assert state(runtime, second).status == "failed"
    finished = state(runtime, first).finished_at
    worker.sweep()
    assert state(runtime, first).finished_at == finished
    assert jobs.claim(runtime, "worker-2") is None


def test_a_job_whose_workers_keep_dying_is_given_up_after_its_last_attempt(runtime):
    job_id, other = submitted(runtime), submitted(runtime)
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        assert jobs.claim(runtime, f"worker-{attempt}") == job_id
        assert state(runtime, job_id).attempts == attempt
        # The worker died mid-run (killed for its memory, say): its lease runs out.
        runtime.clock.now += jobs.LEASE + timedelta(seconds=1)
    # The next claim gives it up and takes the next simulation instead.
    assert jobs.claim(runtime, "worker-next") == other
    given_up = state(runtime, job_id)
    assert (given_up.status, given_up.error) == ("failed", jobs.GIVEN_UP)
    assert given_up.locked_by is None and given_up.finished_at == runtime.clock()
