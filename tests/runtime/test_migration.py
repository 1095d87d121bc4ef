"""Moving waiting instances to a newer version: previewed, refused when unsafe, audited."""

import pytest
from sqlalchemy import select

from webapp.db.models import HumanTask
from webapp.runtime.errors import Conflict

TWO_STEPS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_Steps"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="steps" isExecutable="true">
    <bpmn:startEvent id="Event_Start"><bpmn:outgoing>Flow_ToFirst</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_ToFirst" sourceRef="Event_Start" targetRef="Task_First"/>
    <bpmn:userTask id="Task_First" name="{first}">
      <bpmn:incoming>Flow_ToFirst</bpmn:incoming><bpmn:outgoing>Flow_AfterFirst</bpmn:outgoing>
    </bpmn:userTask>
    {rest}
  </bpmn:process>
</bpmn:definitions>
"""
THEN_SECOND = """
    <bpmn:sequenceFlow id="Flow_AfterFirst" sourceRef="Task_First" targetRef="Task_Second"/>
    <bpmn:userTask id="Task_Second" name="Second">
      <bpmn:incoming>Flow_AfterFirst</bpmn:incoming><bpmn:outgoing>Flow_ToEnd</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_ToEnd" sourceRef="Task_Second" targetRef="Event_End"/>
    <bpmn:endEvent id="Event_End"><bpmn:incoming>Flow_ToEnd</bpmn:incoming></bpmn:endEvent>
"""
THEN_END = """
    <bpmn:sequenceFlow id="Flow_AfterFirst" sourceRef="Task_First" targetRef="Event_End"/>
    <bpmn:endEvent id="Event_End"><bpmn:incoming>Flow_AfterFirst</bpmn:incoming></bpmn:endEvent>
"""


def deploy(runtime, first: str = "First", rest: str = THEN_SECOND) -> int:
    """Deploy a version of the two-step process and return its number."""
    xml = TWO_STEPS.format(first=first, rest=rest).encode()
    [deployed] = runtime.deploy({"steps.bpmn": xml}, deployed_by="tests")
    return deployed.version


@pytest.fixture
def waiting(runtime):
    """An instance of version 1 waiting at its first task."""
    deploy(runtime)
    return runtime.start("steps", {"n": 1})


def test_renamed_task_moves_waiting_instance_and_records_the_move(runtime, waiting):
    assert deploy(runtime, first="First, renamed") == 2
    preview = runtime.migration_preview(waiting.id, 2)
    assert preview.safe and preview.changed == ("Task_First",)
    assert preview.reset == ("Task_First",)
    moved = runtime.migrate(waiting.id, 2, actor="admin")
    assert moved.version == 2
    [task] = moved.ready_tasks
    assert task.name == "First, renamed"
    with runtime.transaction() as session:
        row = session.scalars(select(HumanTask).where(HumanTask.instance_id == waiting.id)).one()
        assert row.name == "First, renamed"
    [event] = [e for e in runtime.instance(waiting.id).events if e.kind == "instance_migrated"]
    assert (event.actor, event.data["from_version"], event.data["to_version"]) == ("admin", 1, 2)
    done = runtime.complete(task.id, {}, actor="clerk")
    assert runtime.complete(done.ready_tasks[0].id, {}, actor="clerk").status == "completed"


def test_removing_a_task_the_instance_will_reach_is_refused_and_the_instance_stays(
    runtime, waiting
):
    deploy(runtime, rest=THEN_END)
    preview = runtime.migration_preview(waiting.id, 2)
    assert not preview.safe and preview.removed == ("Task_Second",)
    assert any("Task_Second" in reason for reason in preview.reasons)
    with pytest.raises(Conflict):
        runtime.migrate(waiting.id, 2, actor="admin")
    assert runtime.instance(waiting.id).version == 1


def test_moving_to_the_same_or_an_older_version_is_refused(runtime, waiting):
    preview = runtime.migration_preview(waiting.id, 1)
    assert not preview.safe and "not newer" in preview.reasons[0]


def test_finished_instances_do_not_move(runtime, waiting):
    first = runtime.complete(waiting.ready_tasks[0].id, {}, actor="clerk")
    runtime.complete(first.ready_tasks[0].id, {}, actor="clerk")
    deploy(runtime, first="Renamed")
    preview = runtime.migration_preview(waiting.id, 2)
    assert not preview.safe and "completed" in preview.reasons[0]
