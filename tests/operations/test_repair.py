"""Repairing an instance in the runtime: variable edits and instance modification, audited."""

import pytest
from sqlalchemy import select

from webapp.analytics.trace import instance_trace
from webapp.bootstrap import FIELD_RULES
from webapp.centres import centre_ids
from webapp.db.models import Incident, Instance, InstanceEvent, Job
from webapp.privacy import EVERYTHING
from webapp.runtime import repair, variable_edit
from webapp.runtime.errors import Conflict, InvalidData, NotFound
from webapp.runtime.repair import Operation

from .conftest import REPAIR


@pytest.fixture
def repair_runtime(ops_runtime, registry):
    # "wrong" is a name the registry never answers for: its lookup fails at every attempt.
    registry.failures_left["wrong"] = 10**6
    ops_runtime.deploy(REPAIR)
    return ops_runtime


def at_review(runtime, who: str = "anna") -> int:
    """Start an application and run it to the review (a lookup of `who` that succeeds)."""
    view = runtime.start("repair", {"applicant_iin": "850314304175"})
    return runtime.complete(view.ready_tasks[0].id, {"who": who}, actor="clerk").id


def failed(runtime) -> int:
    """Start an application whose lookup fails: it waits with an open incident."""
    view = runtime.start("repair", {})
    return runtime.complete(view.ready_tasks[0].id, {"who": "wrong"}, actor="clerk").id


def shape(tokens) -> list[tuple[str, str, str | None]]:
    """Return tokens as what they are, whatever their task ids."""
    return [(t.bpmn_id, t.state, t.scope) for t in tokens]


def events_of(runtime, instance_id: int, kind: str) -> list[InstanceEvent]:
    with runtime.session_factory() as session:
        return session.scalars(
            select(InstanceEvent)
            .where(InstanceEvent.instance_id == instance_id, InstanceEvent.kind == kind)
            .order_by(InstanceEvent.id)
        ).all()


def state_of(runtime, instance_id: int) -> tuple[int, str]:
    with runtime.session_factory() as session:
        row = session.get(Instance, instance_id)
        return row.lock_version, row.status


def complete_all(runtime, instance_id: int, data: dict) -> str:
    """Complete every ready task of an instance with `data` until it ends; return its status."""
    view = runtime.instance(instance_id)
    while view.ready_tasks:
        view = runtime.complete(view.ready_tasks[0].id, data, actor="clerk")
    return view.status


def test_a_corrected_variable_lets_the_retry_succeed_and_is_audited_with_before_and_after(
    repair_runtime, registry
):
    instance_id = failed(repair_runtime)
    variable_edit.set_variable(
        repair_runtime, instance_id, "who", "anna", "typo in the name", "admin"
    )
    [incident] = repair_runtime.instance(instance_id).incidents
    view = repair_runtime.retry_incident(incident.id, "admin")
    assert view.status == "waiting" and [t.bpmn_id for t in view.ready_tasks] == ["Task_Review"]
    assert registry.calls[-1] == "anna" and view.data["found"] == {"key": "anna"}
    [event] = events_of(repair_runtime, instance_id, "variable_changed")
    assert event.actor == "admin"
    assert event.data == {
        "variable": "who",
        "before": {"who": "wrong"},
        "after": {"who": "anna"},
        "reason": "typo in the name",
    }
    assert complete_all(repair_runtime, instance_id, {"decision": "accept"}) == "completed"


@pytest.mark.parametrize(
    ("name", "value", "reason", "field"),
    [
        ("count", "three", "wrong type", "value"),  # an integer field of the Apply form
        ("count", -1, "below the minimum", "value"),
        ("who", "", "empty name", "value"),  # minLength 1
        ("who", "anna", "   ", "reason"),
        ("1st", 1, "a name that is no variable", "name"),
        ("notes", {"deep": [[[[[[[[[[[1]]]]]]]]]]]}, "too deep", "value"),
    ],
)
def test_a_refused_variable_edit_names_the_field_and_changes_nothing(
    repair_runtime, name, value, reason, field
):
    instance_id = at_review(repair_runtime)
    before = state_of(repair_runtime, instance_id)
    with pytest.raises(InvalidData) as refused:
        variable_edit.set_variable(repair_runtime, instance_id, name, value, reason, "admin")
    assert any(key.startswith(field) for key in refused.value.errors), refused.value.errors
    assert state_of(repair_runtime, instance_id) == before
    assert events_of(repair_runtime, instance_id, "variable_changed") == []


def test_a_variable_edit_keeps_to_the_rules_a_start_keeps(repair_runtime):
    """An administrator can no more set a service centre that does not exist than a start can."""
    repair_runtime.field_rules = FIELD_RULES
    instance_id = at_review(repair_runtime)
    before = state_of(repair_runtime, instance_id)
    with pytest.raises(InvalidData) as refused:
        variable_edit.set_variable(
            repair_runtime, instance_id, "service_centre_id", "nowhere", "moved", "admin"
        )
    assert "is not a service centre" in refused.value.errors["value"]
    assert state_of(repair_runtime, instance_id) == before
    assert events_of(repair_runtime, instance_id, "variable_changed") == []
    centre = centre_ids()[0]
    variable_edit.set_variable(
        repair_runtime, instance_id, "service_centre_id", centre, "moved", "admin"
    )
    assert repair_runtime.instance(instance_id).data["service_centre_id"] == centre


def test_a_value_that_is_not_json_is_refused_before_anything_runs():
    with pytest.raises(InvalidData) as refused:
        variable_edit.parse_value("anna")
    assert "value" in refused.value.errors
    assert variable_edit.parse_value('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_a_variable_of_an_ended_instance_or_a_stale_view_is_refused(repair_runtime):
    instance_id = at_review(repair_runtime)
    version, _ = state_of(repair_runtime, instance_id)
    variable_edit.set_variable(repair_runtime, instance_id, "note", "x", "first", "admin", version)
    with pytest.raises(Conflict, match="changed since"):
        variable_edit.set_variable(
            repair_runtime, instance_id, "note", "y", "second", "admin", version
        )
    repair_runtime.terminate(instance_id, "admin")
    with pytest.raises(Conflict, match="terminated"):
        variable_edit.set_variable(repair_runtime, instance_id, "note", "z", "third", "admin")


def test_moving_the_token_back_previews_what_applying_leaves_and_runs_to_the_end(
    repair_runtime,
):
    instance_id = at_review(repair_runtime)
    [review] = repair.repairable(repair_runtime, instance_id).tokens
    operations = [Operation("cancel", review.task_id), Operation("start_before", "Task_Apply")]
    preview = repair.preview(repair_runtime, instance_id, operations)
    assert shape(preview.before) == [("Task_Review", "ready", None)]
    assert shape(preview.after) == [("Task_Apply", "ready", None)]
    repair.modify(
        repair_runtime, instance_id, operations, "documents resubmitted", "admin",
        preview.lock_version,
    )  # fmt: skip
    assert shape(repair.repairable(repair_runtime, instance_id).tokens) == shape(preview.after)
    [event] = events_of(repair_runtime, instance_id, "instance_modified")
    assert event.actor == "admin" and event.data["reason"] == "documents resubmitted"
    assert [(t["bpmn_id"], t["state"]) for t in event.data["tokens"]] == [("Task_Apply", "ready")]
    assert event.data["operations"] == [o.to_dict() for o in operations]
    cancelled = events_of(repair_runtime, instance_id, "task_cancelled")
    assert cancelled[-1].bpmn_id == "Task_Review" and cancelled[-1].id > event.id
    # The new token carries the instance's data: the application number and the lookup.
    view = repair_runtime.instance(instance_id)
    assert view.data["found"] == {"key": "anna"} and view.data["application_number"]
    view = repair_runtime.complete(view.ready_tasks[0].id, {"who": "bob"}, actor="clerk")
    assert view.data["found"] == {"key": "bob"}
    assert complete_all(repair_runtime, instance_id, {"decision": "accept"}) == "completed"


def test_starting_after_a_failed_lookup_skips_it_and_closes_its_incident(repair_runtime):
    instance_id = failed(repair_runtime)
    tokens = repair.repairable(repair_runtime, instance_id).tokens
    assert shape(tokens) == [("Task_Lookup", "failed", None), ("Event_NotFound", "waiting", None)]
    operations = [Operation("cancel", tokens[0].task_id), Operation("start_after", "Task_Lookup")]
    preview = repair.preview(repair_runtime, instance_id, operations)
    assert shape(preview.after) == [("Task_Review", "ready", None)]
    with repair_runtime.session_factory() as session:  # a preview changes nothing
        assert session.scalars(select(Job.kind).where(Job.instance_id == instance_id)).all() == [
            "retry"
        ]
    view = repair.modify(repair_runtime, instance_id, operations, "looked up by phone", "admin")
    assert view.status == "waiting" and [t.bpmn_id for t in view.ready_tasks] == ["Task_Review"]
    with repair_runtime.session_factory() as session:
        assert session.scalars(select(Incident.status)).all() == ["resolved"]
        assert session.scalars(select(Job).where(Job.instance_id == instance_id)).all() == []
    assert complete_all(repair_runtime, instance_id, {"decision": "refuse"}) == "completed"


def test_a_token_started_before_a_task_with_boundary_events_arms_them(repair_runtime, registry):
    instance_id = at_review(repair_runtime)
    [review] = repair.repairable(repair_runtime, instance_id).tokens
    registry.failures_left["anna"] = 1
    operations = [Operation("cancel", review.task_id), Operation("start_before", "Task_Lookup")]
    preview = repair.preview(repair_runtime, instance_id, operations)
    assert shape(preview.after) == [
        ("Task_Lookup", "ready", None),
        ("Event_NotFound", "waiting", None),
    ]
    view = repair.modify(repair_runtime, instance_id, operations, "look up again", "admin")
    assert view.status == "error"
    [incident] = [i for i in repair_runtime.instance(instance_id).incidents if i.status == "open"]
    assert repair_runtime.retry_incident(incident.id, "admin").status == "waiting"


def test_a_token_inside_the_subprocess_shows_its_scope_and_is_cancelled_with_it(
    repair_runtime,
):
    instance_id = at_review(repair_runtime)
    complete_all_but = repair_runtime.instance(instance_id).ready_tasks[0]
    repair_runtime.complete(complete_all_but.id, {"decision": "accept"}, actor="clerk")
    tokens = repair.repairable(repair_runtime, instance_id).tokens
    assert shape(tokens) == [
        ("SubProcess_Check", "started", None),
        ("Task_Inspect", "ready", "SubProcess_Check"),
    ]
    with pytest.raises(Conflict, match="inside SubProcess_Check"):
        repair.preview(repair_runtime, instance_id, [Operation("cancel", tokens[1].task_id)])
    operations = [Operation("cancel", tokens[0].task_id), Operation("start_after", "Task_Apply")]
    view = repair.modify(repair_runtime, instance_id, operations, "check again", "admin")
    assert [t.bpmn_id for t in view.ready_tasks] == ["Task_Review"]
    assert complete_all(repair_runtime, instance_id, {"decision": "accept"}) == "completed"


@pytest.mark.parametrize(
    ("operations", "error", "message"),
    [
        ([Operation("start_before", "Task_Nowhere")], NotFound, "no element"),
        ([Operation("start_before", "Task_Inspect")], Conflict, "inside subprocess"),
        ([Operation("start_before", "Event_Start")], Conflict, "start event"),
        ([Operation("start_before", "Event_NotFound")], Conflict, "boundary event"),
        ([Operation("start_after", "Gateway_Decide")], Conflict, "2 outgoing flows"),
        ([Operation("start_after", "Event_Done")], Conflict, "0 outgoing flows"),
        ([Operation("cancel", "00000000-0000-0000-0000-000000000000")], Conflict, "no longer"),
        ([Operation("jump", "Task_Apply")], InvalidData, "unknown operation"),
        ([], InvalidData, "needs an operation"),
    ],
)
def test_an_unsafe_modification_is_refused_and_changes_nothing(
    repair_runtime, operations, error, message
):
    instance_id = at_review(repair_runtime)
    before = state_of(repair_runtime, instance_id)
    with pytest.raises(error, match=message):
        repair.preview(repair_runtime, instance_id, operations)
    with pytest.raises(error, match=message):
        repair.modify(repair_runtime, instance_id, operations, "try", "admin")
    assert state_of(repair_runtime, instance_id) == before
    assert events_of(repair_runtime, instance_id, "instance_modified") == []


def test_cancelling_the_last_token_a_stale_preview_and_an_ended_instance_are_refused(
    repair_runtime,
):
    instance_id = at_review(repair_runtime)
    [review] = repair.repairable(repair_runtime, instance_id).tokens
    with pytest.raises(Conflict, match="no token left"):
        repair.modify(repair_runtime, instance_id, [Operation("cancel", review.task_id)], "x",
                      "admin")  # fmt: skip
    preview = repair.preview(repair_runtime, instance_id, [Operation("start_before", "Task_Apply")])
    variable_edit.set_variable(
        repair_runtime, instance_id, "note", "meanwhile", "a change", "admin"
    )
    with pytest.raises(Conflict, match="changed since"):
        repair.modify(repair_runtime, instance_id, preview.operations, "late", "admin",
                      preview.lock_version)  # fmt: skip
    with pytest.raises(InvalidData, match="reason"):
        repair.modify(repair_runtime, instance_id, preview.operations, "", "admin")
    repair_runtime.terminate(instance_id, "admin")
    with pytest.raises(Conflict, match="terminated"):
        repair.preview(repair_runtime, instance_id, [Operation("start_before", "Task_Apply")])


def test_the_trace_rebuilds_the_data_with_an_edited_variable(repair_runtime):
    instance_id = at_review(repair_runtime)
    variable_edit.set_variable(repair_runtime, instance_id, "who", "bob", "renamed", "admin")
    with repair_runtime.session_factory() as session:
        events = instance_trace(session, instance_id, view=EVERYTHING).events
    [edit] = [e for e in events if e.kind == "variable_changed"]
    assert edit.data_after["who"] == "bob" and edit.data_after["found"] == {"key": "anna"}
