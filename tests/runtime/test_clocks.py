"""Timers run on the runtime's clock: a step at another time than the wall clock's (a
simulated history, the worker's --now) starts its timers from its own time."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from webapp.db.models import Job
from webapp.runtime.engine import Runtime

from .conftest import bundle

MONTH_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)


class Clock:
    """A clock the test sets."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        """Return the time the test has set."""
        return self.now


def test_a_timer_started_a_month_ago_is_due_its_duration_later_and_not_before(runtime):
    clock = Clock(MONTH_AGO)
    past = Runtime(runtime.session_factory, runtime.operators, runtime.config, clock=clock)
    past.deploy(bundle("answer_window.bpmn"))
    view = past.start("answer_window", {"owners": ["owner-1", "owner-2"]})
    with past.transaction() as session:
        [due] = session.scalars(select(Job.due_at).where(Job.instance_id == view.id))
    # Due within the moment the step took to run, never by the wall clock's time.
    assert abs(due - (MONTH_AGO + timedelta(hours=1))) < timedelta(seconds=1)
    first, second = view.ready_tasks
    clock.now = MONTH_AGO + timedelta(minutes=10)
    answered = past.complete(first.id, {}, actor=first.assignee)
    assert answered.status == "waiting" and [t.id for t in answered.ready_tasks] == [second.id]
    assert past.run_due_jobs(now=MONTH_AGO + timedelta(minutes=59)) == 0
    clock.now = MONTH_AGO + timedelta(minutes=61)
    assert past.run_due_jobs() == 1
    done = past.instance(view.id)
    fired = [e.at for e in done.events if e.kind == "timer_fired"]
    assert done.status == "completed" and fired == [MONTH_AGO + timedelta(minutes=61)]


def test_a_timer_started_on_the_wall_clock_is_due_by_it_as_before(runtime):
    runtime.deploy(bundle("answer_window.bpmn"))
    before = datetime.now(UTC)
    view = runtime.start("answer_window", {"owners": ["owner-1"]})
    with runtime.transaction() as session:
        [due] = session.scalars(select(Job.due_at).where(Job.instance_id == view.id))
    assert before + timedelta(hours=1) <= due <= datetime.now(UTC) + timedelta(hours=1)
