"""Simulations in the background: recorded by the editor, claimed and run by the worker."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.db.simulation import SimulationJob
from webapp.runtime.engine import Runtime

from .report import Request, compare

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # renewed at each run done: a run takes seconds, not minutes
# A simulation still unfinished after this many claims stopped each worker that took it.
MAX_ATTEMPTS = 3
GIVEN_UP = f"its worker stopped while running it, {MAX_ATTEMPTS} times: it was given up"


def submit(session: Session, request: Request, author: str, now: datetime) -> int:
    """Record a pending simulation of an already checked request; return its id."""
    job = SimulationJob(
        process_id=request.process_id,
        version=request.version,
        period_start=request.start,
        period_end=request.end,
        runs=request.runs,
        seed=request.seed,
        staffing=request.staffing,
        status="pending",
        runs_done=0,
        created_by=author,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job.id


def claim(runtime: Runtime, worker: str, lease: timedelta = LEASE) -> int | None:
    """Take the oldest simulation no worker holds; None if there is none.

    The update repeats the condition, so of two workers reading the same job only the one
    whose update finds it still free gets it. A free simulation already claimed MAX_ATTEMPTS
    times is marked failed instead: each worker that took it stopped before it ended.
    """
    now = runtime.clock()
    free = or_(SimulationJob.locked_until.is_(None), SimulationJob.locked_until < now)
    waiting = SimulationJob.status.in_(("pending", "running"))
    with runtime.session_factory.begin() as session:
        session.execute(
            update(SimulationJob)
            .where(waiting, free, SimulationJob.attempts >= MAX_ATTEMPTS)
            .values(status="failed", error=GIVEN_UP, finished_at=now, locked_by=None,
                    locked_until=None)
        )  # fmt: skip
        found = session.scalar(
            select(SimulationJob.id).where(waiting, free).order_by(SimulationJob.id).limit(1)
        )
        if found is None:
            return None
        taken = session.execute(
            update(SimulationJob)
            .where(SimulationJob.id == found, waiting, free)
            .values(
                status="running",
                locked_by=worker,
                locked_until=now + lease,
                runs_done=0,
                attempts=SimulationJob.attempts + 1,
            )
        )
        return found if taken.rowcount == 1 else None


def run(runtime: Runtime, job_id: int, lease: timedelta = LEASE) -> None:
    """Run a claimed simulation, saving each run done; a failure is kept as its message.

    Progress is committed on the simulation's own session: on SQLite every transaction holds
    the write lock, so a second connection writing progress would wait for the first.
    """
    with runtime.session_factory() as session:
        job = session.get(SimulationJob, job_id)
        request = Request(
            job.process_id,
            job.version,
            job.period_start,
            job.period_end,
            job.runs,
            job.seed,
            job.staffing,
        )
        session.commit()

        def progress(done: int) -> None:
            job.runs_done += done
            job.locked_until = runtime.clock() + lease
            session.commit()

        try:
            result = compare(runtime, session, request, progress=progress)
        except Exception as error:
            log.exception("simulation %s failed", job_id)
            session.rollback()
            job.status, job.error = "failed", str(error) or type(error).__name__
        else:
            job.status, job.result = "done", result
        job.finished_at, job.locked_by, job.locked_until = runtime.clock(), None, None
        session.commit()


def run_next(runtime: Runtime, worker: str, lease: timedelta = LEASE) -> int | None:
    """Claim and run one simulation; return its id, None if none was waiting."""
    job_id = claim(runtime, worker, lease)
    if job_id is not None:
        run(runtime, job_id, lease)
    return job_id


def listed(session: Session, process_id: str, limit: int = 50) -> list[SimulationJob]:
    """Return a process's simulations, latest first."""
    return list(
        session.scalars(
            select(SimulationJob)
            .where(SimulationJob.process_id == process_id)
            .order_by(SimulationJob.created_at.desc(), SimulationJob.id.desc())
            .limit(limit)
        )
    )
