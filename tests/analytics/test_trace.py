"""The trace of an instance: timeline, user-task times, data after each step, markers, masks."""

from datetime import timedelta

import pytest

from webapp.analytics.trace import instance_trace
from webapp.privacy import EVERYTHING, Privacy, initials, mask_iin
from webapp.runtime.errors import NotFound

from .conftest import IIN, NOW

MINUTE = timedelta(minutes=1)


def test_timeline_has_every_event_with_its_offset_and_task_durations(session, history):
    trace = instance_trace(session, history.ids[0], now=NOW)
    lines = [(e.kind, e.bpmn_id, e.since_start / MINUTE) for e in trace.events]
    assert lines == [
        ("instance_started", None, 0),
        ("task_completed", "Event_Start", 0),
        ("task_ready", "Task_Check", 0),
        ("claimed", "Task_Check", 2),
        ("task_completed", "Task_Check", 7),
        ("task_completed", "Gateway_DocumentsOk", 7),
        ("task_ready", "Task_Approve", 7),
        ("claimed", "Task_Approve", 8),
        ("task_completed", "Task_Approve", 11),
        ("task_completed", "Task_Register", 11),
        ("task_completed", "Event_Registered", 11),
        ("instance_completed", None, 11),
    ]
    durations = {e.bpmn_id: e.duration for e in trace.events if e.kind == "task_completed"}
    assert durations["Task_Check"] == 7 * MINUTE
    assert durations["Task_Approve"] == 4 * MINUTE
    assert trace.lead_time == 11 * MINUTE
    actors = {e.bpmn_id: e.actor for e in trace.events if e.kind == "task_completed"}
    assert (actors["Task_Check"], actors["Task_Approve"]) == ("clerk1", "supervisor1")


def test_user_tasks_split_time_waiting_unclaimed_from_time_worked(session, history):
    trace = instance_trace(session, history.ids[1], now=NOW)
    times = [(t.bpmn_id, t.waiting / MINUTE, t.working / MINUTE) for t in trace.user_tasks]
    assert times == [("Task_Check", 4, 6), ("Task_Approve", 2, 8)]
    assert [t.completed_by for t in trace.user_tasks] == ["clerk1", "supervisor1"]


def test_open_task_counts_its_waiting_time_up_to_now(session, history):
    trace = instance_trace(session, history.ids[5], now=NOW)
    (task,) = trace.user_tasks
    assert (task.state, task.waiting, task.working) == ("ready", 30 * MINUTE, timedelta())


def test_released_task_counts_held_time_as_worked_and_the_rest_as_waiting(history):
    runtime, clock = history.runtime, history.clock
    view = runtime.start("review", {"channel": "online"})
    task_id = view.ready_tasks[0].id
    for minutes, action in ((1, "claim"), (2, "unclaim"), (3, "claim")):
        clock.now += minutes * MINUTE
        getattr(runtime, action)(task_id, "clerk1")
    clock.now += 4 * MINUTE
    runtime.complete(task_id, {"documents_ok": False, "reason": "x"}, actor="clerk1")
    with history.session_factory() as session:
        (task,) = instance_trace(session, view.id, now=clock.now).user_tasks
    assert (task.waiting, task.working) == (4 * MINUTE, 6 * MINUTE)


def test_data_after_each_step_is_rebuilt_from_the_deltas(session, history):
    trace = instance_trace(session, history.ids[2], view=EVERYTHING, now=NOW)
    after = [(e.kind, e.bpmn_id, e.data_after) for e in trace.events if e.data_after]
    assert [(kind, bpmn_id) for kind, bpmn_id, _ in after] == [
        ("instance_started", None),
        ("task_completed", "Task_Check"),
        ("task_completed", "Task_Refuse"),
    ]
    started, checked, refused = (data for *_, data in after)
    assert "documents_ok" not in started
    assert checked["documents_ok"] is False and "outcome" not in checked
    assert refused["outcome"] == "refused"
    assert refused["refusal_reason"] == "documents_missing"
    assert refused["person_iin"] == IIN


def test_markers_show_the_path_taken_and_the_active_task(session, history):
    refused = instance_trace(session, history.ids[2], now=NOW)
    assert refused.path == (
        "Event_Start",
        "Task_Check",
        "Gateway_DocumentsOk",
        "Task_Refuse",
        "Event_Refused",
    )
    assert refused.markers.completed == tuple(sorted(refused.path))
    assert "Task_Approve" not in refused.markers.counts
    assert refused.markers.flows == (
        "Flow_ToCheck",
        "Flow_ToDecision",
        "Flow_ToRefuse",
        "Flow_ToRefused",
    )
    running = instance_trace(session, history.ids[5], now=NOW).markers
    assert running.to_dict() == {
        "failed": [],
        "active": ["Task_Check"],
        "completed": ["Event_Start", "Flow_ToCheck"],
        "cancelled": [],
    }


def test_terminated_instance_marks_its_open_task_cancelled(history):
    history.runtime.terminate(history.ids[5], "administrator")
    with history.session_factory() as session:
        markers = instance_trace(session, history.ids[5], now=NOW).markers
    assert markers.cancelled == ("Task_Check",)
    assert markers.active == ()


ADMINISTRATOR = Privacy(b"key").view(["administrator"])


def test_personal_data_is_masked_unless_the_viewer_may_see_it(session, history):
    masked = instance_trace(session, history.ids[0], view=ADMINISTRATOR, now=NOW)
    started = masked.events[0].data
    assert started["applicant_iin"] == "8503******75"
    assert (started["applicant_first_name"], started["applicant_last_name"]) == ("A.", "N.")
    assert masked.summary["person_iin"] == "8503******75"
    assert IIN not in repr(masked)
    shown = instance_trace(session, history.ids[0], view=EVERYTHING, now=NOW)
    assert shown.events[0].data["applicant_last_name"] == "Nurlanova"


def test_masking_reaches_nested_data_and_iins_inside_text():
    data = {
        "owners": [{"iin": IIN, "full_name": "Aigerim Nurlanovna Sadykova"}],
        "note": f"by {IIN}",
    }
    assert ADMINISTRATOR(data) == {
        "owners": [{"iin": "8503******75", "full_name": "A. N. S."}],
        "note": "by 8503******75",
    }
    assert ADMINISTRATOR({"file_name": "passport.pdf", "phone": "87011234567"}) == {
        "file_name": "passport.pdf",
        "phone": "*********67",
    }
    assert (mask_iin(IIN), initials("Aigerim")) == ("8503******75", "A.")


def test_unknown_instance_is_not_found(session):
    with pytest.raises(NotFound):
        instance_trace(session, 999)


def test_each_step_lists_only_the_values_it_changed_with_before_and_after(session, history):
    trace = instance_trace(session, history.ids[2], view=EVERYTHING, now=NOW)
    started, checked, refused = (e for e in trace.events if e.data_after)
    assert {c.field for c in started.changes} >= {"application_number", "channel"}
    assert all(c.new and c.before is None for c in started.changes)
    assert [(c.field, c.before, c.after, c.new) for c in checked.changes] == [
        ("documents_ok", None, False, True),
        ("reason", None, "documents_missing", True),
    ]
    changed = {c.field: (c.before, c.after) for c in refused.changes}
    assert changed["outcome"][1] == "refused"
    # A value the step wrote again unchanged is not listed.
    assert "channel" not in changed and "documents_ok" not in changed
