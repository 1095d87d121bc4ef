"""The state document: the task tree and data without the specs, restored with them."""

import json
import zlib

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from webapp.runtime.serializer import StateSerializer
from webapp.runtime.specs import parse_bundle

from .conftest import bundle


def waiting_in_a_call_activity(runtime) -> BpmnWorkflow:
    """Return a workflow whose called process waits for a user task."""
    process = parse_bundle(bundle("call_parent.bpmn", "call_child.bpmn"), {}).processes[
        "call_parent"
    ]
    workflow = BpmnWorkflow(
        process.spec, process.subprocess_specs, script_engine=runtime.script_engine
    )
    workflow.do_engine_steps()
    return workflow


def test_state_document_is_spiffs_own_without_the_specs(runtime):
    workflow = waiting_in_a_call_activity(runtime)
    serializer = StateSerializer()
    document = json.loads(zlib.decompress(serializer.dump(workflow)))
    spiff = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    full = spiff.to_dict(workflow)
    del full["spec"], full["subprocess_specs"]
    full["serializer_version"] = VERSION
    assert document == json.loads(json.dumps(full))
    assert document["subprocesses"]


def test_state_document_round_trips_with_the_cached_specs(runtime):
    workflow = waiting_in_a_call_activity(runtime)
    serializer = StateSerializer()
    state = serializer.dump(workflow)
    restored = serializer.load(
        state, workflow.spec, workflow.subprocess_specs, runtime.script_engine
    )
    assert serializer.dump(restored) == state
    ready = restored.get_tasks(state=TaskState.READY, manual=True)
    assert [task.task_spec.bpmn_id for task in ready] == ["Task_ChildReview"]
