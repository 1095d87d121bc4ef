"""The real diagram run in memory, each distinct run once: routing nodes memoised in a tree.

A case's route is a path: its start data, then what happened at each wait (a user task
completed with one class of data, or a timer fired). The engine runs only for a path not seen
before, from the saved state of the path one shorter; every later case on the same path reads
the node. The runtime's own script engine (restricted), serializer and engine loop are used,
with the sandbox registries for reads; writes are answered from the log, never sent.
"""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.util.task import TaskState

from webapp.runtime.levers import TunedSerializer, new_workflow
from webapp.runtime.running import advance
from webapp.runtime.scripting import ScriptEngine

# A path step: ("task", task id, choice index) or ("timer", task id, 0).
Action = tuple[str, str, int]


@dataclass(frozen=True)
class Ready:
    """A user task a node waits on."""

    task_id: str
    bpmn_id: str
    lane: str | None


@dataclass(frozen=True)
class Node:
    """Where a route stands after a path: its open user tasks and timers, or its end."""

    state: str
    ready: tuple[Ready, ...]
    # (task id, seconds after the wait began that the timer is due, its BPMN id)
    timers: tuple[tuple[str, float, str], ...]
    ended: bool
    outcome: str
    failed: str | None = None
    # The BPMN ids of the service tasks the step that led here ran: each may fail and cost time.
    services: tuple[str, ...] = ()


class _Instance:
    """The two fields of an instance record the runtime's engine loop reads."""

    def __init__(self, key: str) -> None:
        self.business_key, self.id = key, 0


class _Step:
    """What `running.advance` needs of a step, without a database."""

    def __init__(self, workflow, key: str) -> None:
        self.workflow, self.instance, self.failures = workflow, _Instance(key), []
        self.durations: dict = {}

    def record(self, *_args, **_kwargs) -> None:
        """Drop an audit event: nothing is logged in a simulation."""


class SimulationEngine(ScriptEngine):
    """The runtime's script engine whose writing operators answer from the log, unsent."""

    def __init__(
        self,
        base: ScriptEngine,
        answers: dict[str, list[dict]],
        reads: dict[int, dict[str, dict]] | None = None,
    ) -> None:
        super().__init__(base.environment, base.operators)
        self.answers = answers
        self.reads = reads or {}
        self.sample = -1  # the kept application whose route is being computed

    def call_service(self, task, operation_name=None, operation_params=None):
        """Give a reading operator's answer as the log recorded it for this application (the
        registry as it was then), else call it; give a writing one's recorded answer."""
        variable = getattr(task.task_spec, "result_variable", None)
        if operation_name not in self.keyed:
            recorded = self.reads.get(self.sample, {}).get(task.task_spec.bpmn_id, {})
            if variable in recorded:
                return json.dumps(recorded[variable])
            return super().call_service(task, operation_name, operation_params)
        recorded = self.answers.get(task.task_spec.bpmn_id) or [{}]
        return json.dumps(recorded[0].get(variable, {}))


class Router:
    """Routes of one process version: the parsed spec shared, every node computed once."""

    def __init__(self, spec, subprocess_specs, engine: ScriptEngine, samples: list[dict]):
        self.spec, self.subprocess_specs = spec, subprocess_specs
        self.engine = engine
        self.samples = samples
        self.serializer = TunedSerializer()
        self.nodes: dict[tuple, Node] = {}
        self.choices: dict[str, list[dict]] = {}
        self.engine_runs = 0

    def node(self, path: tuple) -> Node:
        """Return the node a path leads to: `(sample index, *actions)`."""
        found = self.nodes.get(path)
        if found is None:
            found = self.nodes[path] = self._compute(path)
        return found

    def _compute(self, path: tuple) -> Node:
        """Run the engine one step further than the parent path's saved state."""
        self.engine_runs += 1
        key = f"SIM-{path[0]}"
        ran: set = set()
        if len(path) == 1:
            workflow = new_workflow(self.spec, self.subprocess_specs, self.engine)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.set_data(**self.samples[path[0]])
        else:
            parent = self.node(path[:-1])
            workflow = self.serializer.load(
                parent.state, self.spec, self.subprocess_specs, self.engine
            )
            ran = {t.id for t in _services(workflow)}
            kind, task_id, choice = path[-1]
            task = next(t for t in workflow.get_tasks() if str(t.id) == task_id)
            if kind == "timer":
                _expire(task)
                workflow.refresh_timers()
            else:
                task.set_data(**self.choices[task.task_spec.bpmn_id][choice])
                task.run()
        step = _Step(workflow, key)
        if isinstance(self.engine, SimulationEngine):
            self.engine.sample = path[0]
        advance(step)
        node = _node(workflow, self.serializer.dump(workflow), step.failures)
        services = tuple(t.task_spec.bpmn_id for t in _services(workflow) if t.id not in ran)
        return replace(node, services=services)


def _services(workflow) -> list:
    """Return the service tasks a workflow has completed."""
    return [
        t
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, ServiceTask)
    ]


def _expire(task) -> None:
    """Make SpiffWorkflow's own check, which reads the wall clock, see a timer as due."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value["next"] = past
    else:
        task.internal_data["event_value"] = past


def _node(workflow, state: str, failures: list) -> Node:
    """Return the node a workflow stands at, its timers' delays measured from now."""
    if failures:
        return Node(state, (), (), True, "failed", str(failures[0][1]))
    now = datetime.now(UTC)
    ready = tuple(
        Ready(str(t.id), t.task_spec.bpmn_id, getattr(t.task_spec, "lane", None))
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
    )
    timers = []
    for task in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(task.task_spec, "event_definition", None)
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = task.internal_data.get("event_value")
        due = value.get("next") if isinstance(value, dict) else value
        if due:
            delay = (datetime.fromisoformat(due) - now).total_seconds()
            timers.append((str(task.id), round(max(delay, 0.0)), task.task_spec.bpmn_id))
    ended = workflow.is_completed() or (not ready and not timers)
    data = workflow.data if workflow.is_completed() else {}
    outcome = str(data.get("outcome") or _last_outcome(workflow) or ("ended" if ended else ""))
    return Node(state, ready, tuple(timers), ended, outcome)


def _last_outcome(workflow) -> str | None:
    """Return the outcome the last completed task set, where the workflow's data lacks it."""
    for task in reversed(workflow.get_tasks(state=TaskState.COMPLETED)):
        if "outcome" in task.data:
            return task.data["outcome"]
    return None
