"""In-memory driver that runs the process folders on plain SpiffWorkflow for path tests."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

import jsonschema
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.util.task import TaskState

PROCESSES = Path(__file__).resolve().parents[2] / "processes"

SETTINGS = {"consent_window": "PT1H", "service_term": "PT15M", "rubber_flat_threshold": 15}

SCRIPT_BUILTINS = [
    "len",
    "min",
    "max",
    "sum",
    "sorted",
    "any",
    "all",
    "abs",
    "round",
    "int",
    "float",
    "str",
    "bool",
    "list",
    "dict",
    "set",
    "tuple",
    "range",
    "enumerate",
    "zip",
    "isinstance",
]


class BusinessError(Exception):
    """A registry's refusal, carried to the diagram as a BPMN error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = code


class BusinessErrorThrown(Exception):
    """Interrupts a service task whose operator raised a business error."""

    def __init__(self, task: Any, code: str, message: str) -> None:
        super().__init__(code)
        self.task, self.code, self.message = task, code, message


def age_on(birth_date: str, on_date: str) -> int:
    """Return the age in whole years on a date."""
    born, on = date.fromisoformat(birth_date), date.fromisoformat(on_date)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    """Compile an expression with RestrictedPython once."""
    compiled = compile_restricted_eval(expression)
    if compiled.errors:
        raise SyntaxError("; ".join(compiled.errors))
    return compiled.code


@lru_cache(maxsize=256)
def compile_script(script: str) -> Any:
    """Compile a script with RestrictedPython once."""
    compiled = compile_restricted_exec(script)
    if compiled.errors:
        raise SyntaxError("; ".join(compiled.errors))
    return compiled.code


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluate diagram code under RestrictedPython with the helpers of the contract."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        allowed = dict(safe_builtins)
        allowed.update({name: getattr(builtins, name) for name in SCRIPT_BUILTINS})
        super().__init__(
            {
                "__builtins__": allowed,
                "_getitem_": default_guarded_getitem,
                "_getiter_": default_guarded_getiter,
                "_getattr_": safer_getattr,
                "_write_": full_write_guard,
                "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
                "date": date,
                "timedelta": timedelta,
                "age_on": age_on,
                "today": lambda: date.today().isoformat(),
                "config": lambda name: settings[name],
            }
        )

    def evaluate(self, expression, context, external_context=None):
        """Evaluate an expression compiled by RestrictedPython."""
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        return eval(compile_expression(expression), scope)

    def execute(self, script, context, external_context=None):
        """Run a script compiled by RestrictedPython."""
        return super().execute(compile_script(script), context, external_context)


class HarnessScriptEngine(PythonScriptEngine):
    """Script engine that calls the fake operator table and records every call."""

    def __init__(self, operators: Mapping[str, Callable[..., dict]], calls: list) -> None:
        super().__init__(environment=RestrictedEnvironment(SETTINGS))
        self.operators = operators
        self.calls = calls

    def call_service(self, task, operation_name, operation_params):
        """Call an operator; turn a business error into an interrupt the driver throws."""
        params = {name: spec["value"] for name, spec in operation_params.items()}
        self.calls.append((operation_name, params))
        try:
            result = self.operators[operation_name](**params)
        except Exception as exc:
            code = getattr(exc, "error_code", None)
            if not isinstance(code, str):
                raise
            raise BusinessErrorThrown(task, code, str(exc)) from exc
        return json.dumps(result)


def fake_operators(data_set: Mapping[str, Any]) -> dict[str, Callable[..., dict]]:
    """Build an operator table over a sandbox data set held in memory."""
    persons = {p["iin"]: dict(p) for p in data_set.get("persons", [])}
    premises = {p["arc"]: dict(p) for p in data_set.get("premises", [])}
    registrations: dict[str, str] = {}

    def person(iin: str) -> dict:
        if iin not in persons:
            raise BusinessError("person_not_found", f"no person with IIN {iin}")
        return persons[iin]

    def phone(iin: str) -> dict:
        return {"iin": iin, "phone": persons.get(iin, {}).get("phone")}

    def find_premises(arc: str) -> dict:
        if arc not in premises:
            raise BusinessError("premises_not_found", f"no premises with ARC {arc}")
        return premises[arc]

    def address(arc: str) -> dict:
        found = find_premises(arc)
        count = sum(1 for p in persons.values() if (p.get("registration") or {}).get("arc") == arc)
        keys = ("arc", "address", "kind", "accommodation", "title")
        return {**{k: found[k] for k in keys}, "registered_count": count}

    def title(arc: str) -> dict:
        found = find_premises(arc)
        return {
            "arc": arc,
            "title": found["title"],
            "state_rental": found.get("state_rental", False),
            "rental_contract": found.get("rental_contract", []),
            "owners": found.get("owners", []),
        }

    def deregistration(iin: str) -> dict:
        abroad = persons.get(iin, {}).get("abroad") or {}
        return {
            "iin": iin,
            "deregistered": bool(abroad.get("deregistered")),
            "country": abroad.get("country"),
            "date": abroad.get("date"),
        }

    def register(application_number, iin, arc, registration_type, period_months) -> dict:
        created = application_number not in registrations
        registrations.setdefault(application_number, f"REG-{application_number}")
        if created:
            persons[iin]["registration"] = {"arc": arc, "kind": registration_type}
        return {"registration_id": registrations[application_number], "created": created}

    def close(application_number: str, iin: str) -> dict:
        current = persons[iin].get("registration")
        persons[iin]["registration"] = None
        return {"closed_arc": current["arc"] if current else None}

    def rewrite(application_number: str, iin: str, arc: str) -> dict:
        return {"status": "done"}

    def send(application_number, iin, channel, template, params) -> dict:
        return {"delivery_id": f"{application_number}:{iin}:{template}"}

    return {
        "population.person": person,
        "mobile.phone": phone,
        "address.premises": address,
        "realestate.title": title,
        "consular.deregistration": deregistration,
        "registration.register": register,
        "registration.close": close,
        "idcard.rewrite_address": rewrite,
        "notify.send": send,
    }


@dataclass
class ReadyTask:
    """A user task waiting for a person."""

    id: str
    bpmn_id: str
    name: str
    lane: str | None
    assignee: str | None
    form: str | None
    instructions: str
    data: dict


class Instance:
    """The running instance as a test sees it."""

    def __init__(self, harness: Harness) -> None:
        self._harness = harness

    @property
    def data(self) -> dict:
        """Return the workflow data when finished, else the data of the last ready task."""
        workflow = self._harness.workflow
        if workflow.completed:
            return dict(workflow.data)
        ready = self._harness.ready_tasks()
        return ready[-1].data if ready else dict(workflow.data)

    @property
    def completed(self) -> bool:
        """Return whether the instance has finished."""
        return self._harness.workflow.completed


def load_specs(folder: Path) -> tuple[Any, dict]:
    """Parse every BPMN and DMN file of a process folder with the validating parser."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_files([str(p) for p in sorted(folder.glob("*.bpmn"))])
    parser.add_dmn_files([str(p) for p in sorted(folder.glob("*.dmn"))])
    process_id = parser.get_process_ids()[0]
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


class Harness:
    """Start one instance, complete its tasks, fire its timers; save and restore at each wait."""

    def __init__(self, data_set: Mapping[str, Any], process: str = "residence_registration"):
        self.folder = PROCESSES / process
        self.spec, self.subprocess_specs = load_specs(self.folder)
        self.calls: list[tuple[str, dict]] = []
        self.engine = HarnessScriptEngine(fake_operators(data_set), self.calls)
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        self.jinja = SandboxedEnvironment(undefined=StrictUndefined)
        self.workflow: BpmnWorkflow | None = None

    def start(self, data: Mapping[str, Any]) -> Instance:
        """Start an instance with the application document and run it until it waits."""
        self.workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine)
        self.workflow.get_tasks(state=TaskState.READY)[0].set_data(**dict(data))
        self._run()
        return Instance(self)

    def ready_tasks(self) -> list[ReadyTask]:
        """Return the user tasks that wait for a person."""
        ready = []
        for task in self.workflow.get_tasks(state=TaskState.READY, manual=True):
            props = task.task_spec.extensions.get("properties", {})
            assignee = props.get("assignee")
            ready.append(
                ReadyTask(
                    id=str(task.id),
                    bpmn_id=task.task_spec.bpmn_id,
                    name=task.task_spec.bpmn_name,
                    lane=task.task_spec.lane,
                    assignee=self.engine.evaluate(task, assignee) if assignee else None,
                    form=props.get("formJsonSchemaFilename"),
                    instructions=self._instructions(task),
                    data=dict(task.data),
                )
            )
        return ready

    def _instructions(self, task: Any) -> str:
        """Render a user task's instructions in Jinja's sandbox, failing on unknown names."""
        template = task.task_spec.extensions.get("instructionsForEndUser") or ""
        return self.jinja.from_string(template).render(**task.data)

    def complete(self, task: str | ReadyTask, data: Mapping[str, Any] | None = None) -> Instance:
        """Validate form data against the task's schema, complete the task and run on."""
        wanted = task.id if isinstance(task, ReadyTask) else task
        matches = [t for t in self.ready_tasks() if wanted in (t.id, t.bpmn_id)]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} ready tasks match {wanted!r}")
        ready = matches[0]
        form = dict(data or {})
        if ready.form:
            schema = json.loads((self.folder / ready.form).read_text())
            jsonschema.validate(form, schema, format_checker=jsonschema.FormatChecker())
        spiff_task = self.workflow.get_task_from_id(UUID(ready.id))
        spiff_task.set_data(**form)
        spiff_task.run()
        self._run()
        return Instance(self)

    def task_states(self, bpmn_id: str) -> list[str]:
        """Return the state names of every task of a diagram element, in tree order."""
        return [
            TaskState.get_name(t.state)
            for t in self.workflow.get_tasks()
            if t.task_spec.bpmn_id == bpmn_id
        ]

    def waiting_timers(self) -> list[str]:
        """Return the bpmn ids of the timer events that wait."""
        return [t.task_spec.bpmn_id for t in self._timer_tasks()]

    def fire_timers(self, bpmn_id: str | None = None) -> Instance:
        """Make waiting timers (or the one named) due now, and run on."""
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        for task in self._timer_tasks():
            if bpmn_id in (None, task.task_spec.bpmn_id):
                task.internal_data["event_value"] = past
        self.workflow.refresh_timers()
        self._run()
        return Instance(self)

    def _timer_tasks(self) -> list:
        return [
            t
            for t in self.workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
        ]

    def _run(self) -> None:
        """Run engine steps, throwing business errors as BPMN errors, then save and restore."""
        while True:
            try:
                self.workflow.do_engine_steps()
                break
            except BusinessErrorThrown as thrown:
                self._throw(thrown)
        state = self.serializer.serialize_json(self.workflow)
        self.workflow = self.serializer.deserialize_json(state)
        self.workflow.script_engine = self.engine

    def _throw(self, thrown: BusinessErrorThrown) -> None:
        """Leave the service task running and let its error boundary event interrupt it."""
        task = thrown.task
        task._set_state(TaskState.STARTED)
        payload = {"error_code": thrown.code, "error_message": thrown.message}
        event = BpmnEvent(
            ErrorEventDefinition(thrown.code, code=thrown.code), payload, target=task.workflow
        )
        task.workflow.top_workflow.catch(event)
        if task.state != TaskState.CANCELLED and not _has_ready_boundary(task):
            raise RuntimeError(f"no boundary event catches {thrown.code} on {task.task_spec.name}")


def _has_ready_boundary(task: Any) -> bool:
    return any(
        sibling.state == TaskState.READY and sibling is not task for sibling in task.parent.children
    )
