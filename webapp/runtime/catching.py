"""Handing a message to the event of an instance that waits for it."""

from typing import TYPE_CHECKING
from uuid import uuid5

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from .errors import Conflict, InvalidData, NotFound
from .running import advance
from .waits import event_definitions, message_triggers

if TYPE_CHECKING:
    from .steps import Step


def deliver(step: "Step", task_id: str, name: str, payload: dict, correlation: dict) -> None:
    """Hand a message to the catching event that subscribed to it."""
    workflow = step.workflow
    task = step.task(task_id) or _waiting_by_message_id(workflow, task_id, name)
    trigger = None if task is not None else message_triggers(workflow).get(task_id)
    if trigger is not None and trigger.name == name:
        # An event subprocess with a message start: SpiffWorkflow creates it on the catch.
        _catch(name, workflow.catch, trigger, payload, correlation)
        step.record("message_received", None, {"message": name, "correlation": correlation})
        return
    if task is None or task.state != TaskState.WAITING:
        raise Conflict(f"the instance no longer waits for message {name!r}")
    (definition,) = [
        d
        for d in event_definitions(task.task_spec.event_definition)
        if isinstance(d, MessageEventDefinition) and d.name == name
    ]
    _catch(name, lambda event: task.task_spec.catch(task, event), definition, payload,
           correlation)  # fmt: skip
    if getattr(definition, "message_var", None) is None:
        # SpiffWorkflow drops the payload of a catch event without a messageVariable.
        task.set_data(**payload)
    task.task_spec._update(task)
    step.record("message_received", task, {"message": name, "correlation": correlation})


def deliver_to_start(step: "Step", name: str, payload: dict, correlation: dict) -> None:
    """Run a new instance to its message start event and hand it the message."""
    advance(step)
    for task in step.workflow.event_manager.tasks.values():
        for definition in event_definitions(task.task_spec.event_definition):
            if isinstance(definition, MessageEventDefinition) and definition.name == name:
                deliver(step, str(task.id), name, payload, correlation)
                return
    raise NotFound(f"the process started for message {name!r} does not wait for it")


def _waiting_by_message_id(workflow, message_id: str, name: str):
    """Return the waiting task a second message subscription of an event stands for."""
    for task in workflow.event_manager.tasks.values():
        if str(uuid5(task.id, name)) == message_id:
            return task
    return None


def _catch(name: str, catch, definition, payload: dict, correlation: dict) -> None:
    """Build the BPMN event of a message and hand it to `catch`; refuse what cannot match."""
    correlations: dict = {}
    for prop in definition.correlation_properties:
        if prop.name in correlation:
            for key in prop.correlation_keys:
                correlations.setdefault(key, {})[prop.name] = correlation[prop.name]
    event = BpmnEvent(definition, {**correlation, **payload}, correlations)
    try:
        catch(event)
    except Exception as error:  # noqa: BLE001  (a correlation expression over the payload)
        raise InvalidData(
            f"message {name!r} could not be matched: {error}", {"payload": str(error)}
        ) from error
