"""Call activities: each process an instance called has its own diagram, markers and link."""

import pytest

from webapp.analytics.dashboard import process_dashboard
from webapp.analytics.trace import instance_trace
from webapp.runtime.errors import NotFound

from .conftest import DIAGRAMS, NOW, SINCE, UNTIL, signed_in
from .test_pages import attribute


@pytest.fixture
def called(history) -> int:
    """Run one intake, whose call activity starts the verification, to its end; return its id."""
    runtime = history.runtime
    runtime.deploy({"intake.bpmn": (DIAGRAMS / "intake.bpmn").read_bytes()})
    view = runtime.start("intake", {"application_number": "B-0001"})
    (task,) = view.ready_tasks
    runtime.claim(task.id, "clerk1")
    assert runtime.complete(task.id, {"verified": True}, actor="clerk1").status == "completed"
    return view.id


def test_the_instances_own_diagram_marks_the_call_activity_not_what_it_called(session, called):
    trace = instance_trace(session, called, now=NOW)
    assert (trace.shown_process, trace.called, trace.bpmn_file) == (
        None,
        ("verification",),
        "intake.bpmn",
    )
    assert trace.markers.completed == ("Call_Verify", "Event_Done", "Event_Start")
    assert trace.markers.flows == ("Flow_ToCall", "Flow_ToEnd")


def test_the_called_process_has_its_markers_and_its_events_are_named(session, called):
    trace = instance_trace(session, called, now=NOW, process="verification")
    assert trace.markers.completed == ("Event_Asked", "Event_Verified", "Task_Verify")
    assert trace.markers.flows == ("Flow_ToVerified", "Flow_ToVerify")
    events = {(e.kind, e.bpmn_id): e.called_process for e in trace.events}
    assert events["claimed", "Task_Verify"] == "verification"
    assert events["task_completed", "Call_Verify"] is None
    (task,) = trace.user_tasks
    assert (task.bpmn_id, task.completed_by) == ("Task_Verify", "clerk1")


def test_a_process_the_instance_did_not_call_is_not_found(session, called, history):
    with pytest.raises(NotFound):
        instance_trace(session, called, now=NOW, process="review")
    with pytest.raises(NotFound):
        instance_trace(session, history.ids[0], now=NOW, process="verification")


def test_the_instance_page_links_each_diagram(app, history, called):
    client = signed_in(app, history, "analyst")
    own = client.get(f"/analytics/instances/{called}").text
    link = f'href="/analytics/instances/{called}?process=verification"'
    assert link in own and 'data-process="intake"' in own
    page = client.get(f"/analytics/instances/{called}?process=verification").text
    assert 'data-process="verification"' in page
    assert "Task_Verify" in attribute(page, "data-markers")["completed"]
    assert f'href="/analytics/instances/{called}"' in page
    assert client.get(f"/analytics/instances/{called}?process=review").status_code == 404
    assert 'diagram.bpmn?process=verification"' in page
    diagram = client.get(f"/analytics/instances/{called}/diagram.bpmn?process=verification")
    assert b'<bpmn:process id="verification"' in diagram.data
    missing = client.get(f"/analytics/instances/{called}/diagram.bpmn?process=nothing")
    assert missing.status_code == 404


def test_the_dashboard_counts_each_called_process_on_its_own_diagram(session, called):
    figures = process_dashboard(session, "intake", 1, SINCE, UNTIL, "PT15M")
    assert figures.called == ("verification",)
    assert set(figures.heatmap()) == {"Event_Start", "Call_Verify", "Event_Done"}
    assert set(figures.heatmap("verification")) == {"Event_Asked", "Task_Verify", "Event_Verified"}
    assert [e.called_process for e in figures.elements] == [None] * 3 + ["verification"] * 3
    assert [(s.called_process, s.bpmn_id, s.count) for s in figures.task_split] == [
        ("verification", "Task_Verify", 1)
    ]


def test_the_dashboard_page_shows_a_called_processs_heatmap(app, history, called):
    client = signed_in(app, history, "analyst")
    args = {"process": "intake", "version": 1, "since": "2026-11-02", "until": "2026-11-03"}
    own = client.get("/analytics/dashboard", query_string=args).text
    assert "diagram=verification" in own and "Task_Verify" not in attribute(own, "data-counts")
    page = client.get("/analytics/dashboard", query_string={**args, "diagram": "verification"})
    assert 'data-process="verification"' in page.text
    assert attribute(page.text, "data-counts")["Task_Verify"]["count"] == 1
    assert '/intake/1/diagram.bpmn?process=verification"' in page.text
    diagram = client.get("/analytics/processes/intake/1/diagram.bpmn?process=verification")
    assert b'<bpmn:process id="verification"' in diagram.data
    missing = client.get("/analytics/dashboard", query_string={**args, "diagram": "review"})
    assert missing.status_code == 404


def test_chromium_opens_the_called_process_from_a_file_of_two(analyst_page, called):
    page, base = analyst_page
    page.goto(f"{base}/analytics/instances/{called}")
    page.click("nav.called-processes >> text=verification")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]")
    verify = page.locator('g.djs-element[data-element-id="Task_Verify"]')
    assert "marker-completed" in verify.get_attribute("class")
    assert page.locator('g.djs-element[data-element-id="Call_Verify"]').count() == 0
