"""The per-day figures the dashboard keeps: reused while right, computed again when not."""

from datetime import date, timedelta

from sqlalchemy import delete, select

from webapp.analytics.dashboard import process_dashboard
from webapp.archive import archive
from webapp.db.analytics import DashboardDay
from webapp.db.base import utcnow
from webapp.db.models import HumanTask
from webapp.worker import JobWorker

from .conftest import SINCE, UNTIL, Case, at, run_case, work


def dashboard(history):
    """Return the dashboard of the history's two days, read in a session of its own."""
    with history.session_factory() as session:
        return process_dashboard(session, "review", 1, SINCE, UNTIL, "PT15M")


def from_source(history):
    """Return the dashboard computed with nothing kept, all from the runtime's rows."""
    with history.session_factory.begin() as session:
        session.execute(delete(DashboardDay))
    return dashboard(history)


def kept_days(history) -> dict[date, int]:
    """Return the kept days and how many completed instances each describes."""
    with history.session_factory() as session:
        return dict(session.execute(select(DashboardDay.day, DashboardDay.instances)).all())


def elements(figures) -> dict[str, tuple]:
    """Return count, mean and p90 per element."""
    return {e.bpmn_id: (e.count, e.mean, e.p90) for e in figures.elements}


def test_completed_instances_of_whole_days_are_kept_and_read_back_alike(history):
    first = dashboard(history)
    # The running instance of 3 November is read live, not kept.
    assert kept_days(history) == {date(2026, 11, 2): 3, date(2026, 11, 3): 2}
    assert dashboard(history) == first


def test_an_instance_that_completes_later_updates_its_day(history):
    dashboard(history)
    with history.session_factory() as session:
        task_id = session.scalar(
            select(HumanTask.id).where(
                HumanTask.instance_id == history.ids[5], HumanTask.state == "ready"
            )
        )
    # Ready at 12:00 on 3 November, claimed at 12:32 and completed at 12:35: 35 minutes.
    decision = {"documents_ok": False, "reason": "no_authority"}
    work(history.runtime, history.clock, task_id, (2, 3), decision, "clerk1")
    figures = dashboard(history)
    assert kept_days(history)[date(2026, 11, 3)] == 3
    assert elements(figures)["Task_Check"] == (6, 670.0, 2100.0)
    assert figures.refusal_reasons == {"documents_missing": 1, "no_authority": 2}
    assert figures == from_source(history)


def test_an_archived_instance_leaves_its_day(history, tmp_path):
    dashboard(history)
    archive(history.session_factory, timedelta(0), tmp_path / "archive.jsonl.gz", now=at(2, 10))
    figures = dashboard(history)
    assert kept_days(history)[date(2026, 11, 2)] == 2
    assert figures.started == 5
    # Without the first instance's check of 7 minutes and approval of 4.
    assert elements(figures)["Task_Check"] == (4, 375.0, 600.0)
    assert elements(figures)["Task_Approve"] == (2, 750.0, 900.0)
    assert figures == from_source(history)


def test_a_range_off_day_boundaries_reads_its_partial_days_live(history):
    with history.session_factory() as session:
        figures = process_dashboard(
            session, "review", 1, SINCE + timedelta(hours=10), UNTIL, "PT15M"
        )
    assert kept_days(history) == {date(2026, 11, 3): 2}
    assert figures.started == 5
    assert elements(figures)["Task_Check"][0] == 4


def test_the_worker_keeps_every_past_day_before_any_dashboard_reads_it(history):
    JobWorker(history.runtime, now=at(4, 9)).sweep()
    # The running instance of 3 November is left to be read live.
    assert kept_days(history) == {date(2026, 11, 2): 3, date(2026, 11, 3): 2}
    assert dashboard(history) == from_source(history)
    JobWorker(history.runtime, now=at(30, 9)).sweep()
    assert kept_days(history) == {date(2026, 11, d): n for d, n in ((2, 3), (3, 2), (5, 1))}


def test_today_is_read_live_until_it_is_over(history):
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    history.clock.now = today
    run_case(
        history.runtime,
        history.clock,
        Case(today, "online", "permanent", (1, 1), reason="no_authority"),
        8,
    )
    with history.session_factory() as session:
        figures = process_dashboard(
            session, "review", 1, today - timedelta(days=1), today + timedelta(days=1), "PT15M"
        )
    assert figures.service_term.finished == 1
    assert kept_days(history) == {}
