"""Every dashboard figure of the known history, against values computed by hand."""

from datetime import date, timedelta

import pytest

from webapp.analytics.dashboard import process_dashboard
from webapp.runtime.errors import NotFound

from .conftest import SINCE, UNTIL


@pytest.fixture
def dashboard(session):
    """The dashboard of the review process over the history's two days."""
    return process_dashboard(session, "review", 1, SINCE, UNTIL, "PT15M")


def test_scope_counts_the_instances_started_in_the_range_only(dashboard):
    assert dashboard.started == 6


def test_elements_have_count_mean_and_p90_of_their_durations(dashboard):
    figures = {e.bpmn_id: (e.count, e.mean, e.p90) for e in dashboard.elements}
    # Check: 7, 10, 4, 7 and 4 minutes; Approve: 4, 10 and 15 minutes (nearest-rank p90).
    assert figures["Task_Check"] == (5, 384.0, 600.0)
    assert figures["Task_Approve"] == (3, 580.0, 900.0)
    assert figures["Event_Start"] == (6, 0.0, 0.0)
    assert figures["Gateway_DocumentsOk"] == (5, 0.0, 0.0)
    assert figures["Task_Register"] == (3, 0.0, 0.0)
    assert figures["Task_Refuse"] == (2, 0.0, 0.0)
    assert figures["Event_Registered"][0] == 3
    assert figures["Event_Refused"][0] == 2


def test_heatmap_labels_each_element_with_name_count_mean_p90_and_heat(dashboard):
    heatmap = dashboard.heatmap()
    assert heatmap["Task_Approve"] == {
        "count": 3,
        "label": "Approve registration: 3 · mean 10m · p90 15m",
        # 29 minutes against the 32 spent in Check documents: the top of four shades.
        "heat": 4,
    }
    assert heatmap["Task_Check"]["heat"] == 4
    assert heatmap["Event_Start"]["heat"] == 0


def test_lead_times_have_p50_p90_p99_per_channel_and_type_and_overall(dashboard):
    figures = {
        (t.channel, t.registration_type): (t.count, t.p50, t.p90, t.p99)
        for t in dashboard.lead_times
    }
    assert figures == {
        ("online", "permanent"): (2, 660.0, 1140.0, 1140.0),
        ("online", "temporary"): (1, 240.0, 240.0, 240.0),
        ("service_centre", "permanent"): (2, 420.0, 1200.0, 1200.0),
        (None, None): (5, 660.0, 1200.0, 1200.0),
    }


def test_service_term_share_counts_finished_instances_and_lists_breaches(dashboard, history):
    term = dashboard.service_term
    assert term.term == timedelta(minutes=15)
    assert (term.finished, term.within, term.share, term.breach_count) == (5, 3, 0.6, 2)
    assert [(b.instance_id, b.business_key, b.channel, b.lead_time) for b in term.breaches] == [
        (history.ids[1], "A-0002", "service_centre", 1200.0),
        (history.ids[4], "A-0005", "online", 1140.0),
    ]


def test_outcomes_and_refusal_reasons_are_counted(dashboard):
    assert dashboard.outcomes == {"registered": 3, "refused": 2, None: 1}
    assert dashboard.refusal_reasons == {"documents_missing": 1, "no_authority": 1}


def test_user_tasks_split_waiting_unclaimed_from_working(dashboard):
    split = {
        s.bpmn_id: (s.count, s.waiting_mean, s.working_mean, s.waiting_total, s.working_total)
        for s in dashboard.task_split
    }
    assert split == {
        "Task_Check": (5, 144.0, 240.0, 720.0, 1200.0),
        "Task_Approve": (3, 160.0, 420.0, 480.0, 1260.0),
    }


def test_throughput_counts_started_and_finished_per_day(dashboard):
    assert [(d.day, d.started, d.finished) for d in dashboard.throughput] == [
        (date(2026, 11, 2), 3, 3),
        (date(2026, 11, 3), 3, 2),
    ]


def test_unknown_version_is_not_found(session):
    with pytest.raises(NotFound):
        process_dashboard(session, "review", 9, SINCE, UNTIL, "PT15M")
