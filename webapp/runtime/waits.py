"""What an instance waits for: one subscription per waiting message, one job per timer."""

import json
from datetime import datetime
from uuid import uuid5

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Connection, bindparam, delete, insert

from webapp.db.models import Job, MessageSubscription

from .clocks import timer_value
from .instance_data import current_data, json_safe

INSERT_SUBSCRIPTION = insert(MessageSubscription)
INSERT_JOB = insert(Job)
DELETE_SUBSCRIPTION = delete(MessageSubscription).where(
    MessageSubscription.instance_id == bindparam("instance_id"),
    MessageSubscription.task_id == bindparam("task_id"),
)
DELETE_TIMER = delete(Job).where(
    Job.instance_id == bindparam("instance_id"),
    Job.task_id == bindparam("task_id"),
    Job.kind == "timer",
)

Waits = dict[tuple[str, str], object]


def correlation_key(correlation: dict) -> str:
    """Return the canonical text a subscription's correlation is indexed by."""
    return json.dumps(json_safe(correlation), sort_keys=True, separators=(",", ":"))


def event_definitions(definition) -> list:
    """Return the definitions an event waits for: an event-based gateway's are several."""
    return list(getattr(definition, "event_definitions", None) or [definition])


def message_triggers(workflow) -> dict[str, MessageEventDefinition]:
    """Return the message starts of event subprocesses, by an id stable for the instance."""
    triggers: dict[str, MessageEventDefinition] = {}
    if workflow.completed:
        return triggers
    for name in workflow.spec.start.trigger_specs:
        for start in workflow.subprocess_specs[name].bpmn_start_events:
            if start.extensions.get("interrupting") and workflow.get_next_task(spec_name=name):
                continue  # it has interrupted the process already
            if isinstance(start.event_definition, MessageEventDefinition):
                trigger_id = str(uuid5(workflow.task_tree.id, f"{name}/{start.name}"))
                triggers[trigger_id] = start.event_definition
    return triggers


def waits(workflow) -> Waits:
    """Return what an instance waits for, by kind and id: messages (name and correlation)
    and timers (when due)."""
    found: Waits = {}
    triggers = message_triggers(workflow)
    if triggers:
        data = current_data(workflow)
        for trigger_id, definition in triggers.items():
            found["message", trigger_id] = (
                definition.name,
                _correlation({workflow}, data, definition),
            )
    for task in workflow.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        seen = [event.event_definition for event in task.internal_data.get("seen_events", [])]
        for definition in event_definitions(task.task_spec.event_definition):
            if definition in seen:
                continue  # a parallel multiple event waits for the others still
            if isinstance(definition, MessageEventDefinition):
                # The first message an event waits for is indexed by its task's id, any
                # other (an event-based gateway's) by an id derived from it.
                workflows = {task.workflow, task.workflow.top_workflow}
                correlation = _correlation(workflows, task.data, definition)
                key = str(task.id)
                if ("message", key) in found:
                    key = str(uuid5(task.id, definition.name))
                found["message", key] = (definition.name, correlation)
            elif isinstance(definition, TimerEventDefinition):
                due = _due(timer_value(task), definition)
                if due is not None:
                    found["timer", str(task.id)] = due
    return found


def sync(db: Connection, instance_id: int, before: Waits, after: Waits) -> None:
    """Keep one subscription per waiting message event and one job per waiting timer.

    What was there follows from the state before the step, so no query is needed.
    """
    for (kind, task_id), wait in before.items():
        if after.get((kind, task_id)) != wait:
            statement = DELETE_SUBSCRIPTION if kind == "message" else DELETE_TIMER
            db.execute(statement, {"instance_id": instance_id, "task_id": task_id})
    for (kind, task_id), wait in after.items():
        if before.get((kind, task_id)) == wait:
            continue
        if kind == "message":
            name, correlation = wait
            db.execute(
                INSERT_SUBSCRIPTION,
                {
                    "instance_id": instance_id,
                    "task_id": task_id,
                    "message_name": name,
                    "correlation": correlation,
                    "correlation_key": correlation_key(correlation),
                },
            )
        else:
            db.execute(
                INSERT_JOB,
                {"instance_id": instance_id, "task_id": task_id, "kind": "timer", "due_at": wait},
            )


def _correlation(workflows, data: dict, definition) -> dict:
    """Return the values of a message's correlation properties the instance knows."""
    known = {}
    for workflow in workflows:
        for values in workflow.correlations.values():
            known.update(values)
    correlation = {}
    for prop in definition.correlation_properties:
        if prop.name in known:
            correlation[prop.name] = known[prop.name]
        elif prop.name in data:
            correlation[prop.name] = data[prop.name]
    return json_safe(correlation)


def _due(event_value, definition) -> datetime | None:
    """Return when a waiting timer is due, from the value SpiffWorkflow keeps on its task."""
    if event_value is None:
        return None
    if isinstance(definition, CycleTimerEventDefinition):
        due = datetime.fromisoformat(event_value["next"])
    else:
        due = TimerEventDefinition.parse_time_or_duration(event_value)
    return due if isinstance(due, datetime) else None
