"""The dashboard counts every version of a process together by element id unless one is asked."""

import pytest

from webapp.analytics.dashboard import ElementStat, process_dashboard
from webapp.analytics.elements import diagram_elements

from .conftest import DIAGRAMS, SINCE, UNTIL, Case, at, run_case


@pytest.fixture
def second_version(history):
    """Deploy a version 2 that renames the check, and run two instances on it."""
    content = (DIAGRAMS / "review.bpmn").read_text()
    renamed = content.replace('name="Check documents"', 'name="Check the documents"')
    assert renamed != content
    deployed = history.runtime.deploy({"review.bpmn": renamed.encode()})
    assert [(d.process_id, d.version) for d in deployed] == [("review", 2)]
    cases = (
        Case(at(3, 13), "online", "permanent", (1, 30), (1, 1)),
        Case(at(3, 14), "online", "temporary", (1, 2), reason="documents_missing"),
    )
    ids = [run_case(history.runtime, history.clock, case, 100 + n) for n, case in enumerate(cases)]
    history.clock.now = at(3, 18)
    return ids


def dashboard(session, version=None):
    """Return the review dashboard over the history's two days."""
    return process_dashboard(session, "review", version, SINCE, UNTIL, "PT15M")


def test_every_version_is_counted_together_by_default(second_version, session):
    figures = dashboard(session)
    assert (figures.version, figures.versions, figures.started) == (None, (1, 2), 8)
    counts = {e.bpmn_id: e.count for e in figures.elements}
    # Five checks on version 1 and two on version 2: one element, whatever its name.
    assert counts["Task_Check"] == 7
    assert counts["Event_Start"] == 8


def test_a_version_filter_narrows_to_that_version(second_version, session):
    assert dashboard(session, 1).started == 6
    only_two = dashboard(session, 2)
    assert (only_two.started, only_two.versions) == (2, (2,))
    assert {e.bpmn_id: e.count for e in only_two.elements}["Task_Check"] == 2


def test_elements_carry_the_latest_diagram_name_and_their_type(second_version, session):
    elements = {e.bpmn_id: e for e in dashboard(session).elements}
    assert elements["Task_Check"].name == "Check the documents"
    assert elements["Task_Check"].element_type == "userTask"
    assert elements["Gateway_DocumentsOk"].label == "Documents in order?"
    assert elements["Gateway_DocumentsOk"].minor
    assert elements["Event_Start"].minor
    assert not elements["Task_Register"].minor


def test_elements_are_sorted_by_time_spent_and_gateways_and_events_fold_away(
    second_version, session
):
    figures = dashboard(session)
    totals = [e.total for e in figures.elements]
    assert totals == sorted(totals, reverse=True)
    # Check: 32 minutes on v1, 31 and 3 on v2; Approve: 29 on v1 and 2 on v2.
    assert [(e.bpmn_id, e.total) for e in figures.elements[:2]] == [
        ("Task_Check", 3960.0),
        ("Task_Approve", 1860.0),
    ]
    assert {e.bpmn_id for e in figures.major_elements} == {
        "Task_Check",
        "Task_Approve",
        "Task_Register",
        "Task_Refuse",
    }


def test_an_unnamed_element_is_called_by_its_type_and_an_unknown_one_by_its_id():
    content = (DIAGRAMS / "review.bpmn").read_bytes().replace(b' name="Documents in order?"', b"")
    info = diagram_elements(content)["Gateway_DocumentsOk"]
    assert (info.element_type, info.name, info.type_label) == (
        "exclusiveGateway",
        None,
        "Exclusive gateway",
    )
    unnamed = ElementStat(None, "Gateway_X", None, 1, 0.0, 0.0, 0.0, "exclusiveGateway")
    assert unnamed.label == "Exclusive gateway"
    assert ElementStat(None, "Task_Gone", None, 1, 0.0, 0.0, 0.0).label == "Task_Gone"


def test_the_dashboard_page_shows_all_versions_and_narrows_on_request(second_version, app, history):
    from .conftest import signed_in

    client = signed_in(app, history, "analyst")
    page = client.get("/analytics/dashboard?since=2026-11-02&until=2026-11-03")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<strong>8</strong>" in text
    assert 'title="Task_Check">Check the documents</span>' in text
    assert "Gateway_DocumentsOk" not in text.split('<table class="tasks elements">')[1]
    narrowed = client.get("/analytics/dashboard?since=2026-11-02&until=2026-11-03&version=1")
    assert "<strong>6</strong>" in narrowed.get_data(as_text=True)
    cleared = client.get("/analytics/dashboard?since=2026-11-02&until=2026-11-03&version=")
    assert "<strong>8</strong>" in cleared.get_data(as_text=True)
    everything = client.get(
        "/analytics/dashboard?since=2026-11-02&until=2026-11-03&all_elements=1"
    ).get_data(as_text=True)
    assert 'title="Gateway_DocumentsOk">Documents in order?</span>' in everything
    assert client.get("/analytics/dashboard?version=7").status_code == 404
