"""The checks of each parsed element for what would fail only once it runs.

Scripts, conditions and expressions against the restrictions, timer expressions, service
operators and their parameters, the forms and instructions of user tasks, and every rule of a
decision table. An operator that takes an idempotency key writes, and is refused in every
process but those the caller names.
"""

import inspect
import re
from collections.abc import Callable, Collection, Mapping

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.spiff.specs.defaults import ServiceTask, UserTask

from . import decisions, inputs, scripting, signatures
from .diagram_checks import _Checker
from .errors import ScriptError
from .forms import schema_problems
from .scripting import IDEMPOTENCY_KEY, check_source, takes_idempotency_key

UNQUOTED_TIMER = re.compile(r"R?[0-9]*/?P[0-9YMWDTHS.,]+(/.*)?", re.IGNORECASE)
ENFORCED_HIT_POLICIES = {"UNIQUE", "FIRST", "COLLECT"}


def _timer_problem(definition: TimerEventDefinition) -> str | None:
    """Evaluate a literal timer expression now, as the engine would when the timer starts."""
    try:
        value = scripting.evaluate(definition.expression)
    except ScriptError as error:
        return f"timer expression: {error}"
    except Exception:  # noqa: BLE001  (depends on data: checked when it runs)
        return None
    try:
        if isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif type(definition).__name__ == "DurationTimerEventDefinition":
            TimerEventDefinition.parse_iso_duration(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # noqa: BLE001  (SpiffWorkflow raises bare exceptions here)
        return f"timer expression gives {value!r}, not a valid ISO 8601 duration, date or cycle"
    return None


def _check_task_spec(
    check: _Checker,
    spec,
    files: Mapping[str, bytes],
    operators,
    formats: Collection[str],
    writers: Collection[str],
) -> None:
    element = getattr(spec, "bpmn_id", None) or spec.name
    for attribute in ("script", "prescript", "postscript"):
        check.expression(getattr(spec, attribute, None), element, attribute, "exec")
    for condition, _target in getattr(spec, "cond_task_specs", []):
        # Gateways keep each condition wrapped in an operator object around its source.
        for source in getattr(condition, "args", [condition]):
            check.expression(source, element, "condition")
    for attribute in ("cardinality", "condition"):
        check.expression(getattr(spec, attribute, None), element, attribute)
    properties = (getattr(spec, "extensions", None) or {}).get("properties", {})
    for key in (signatures.REQUIRED, signatures.SIGNER):
        check.expression(properties.get(key), element, f"property '{key}'")
    definition = getattr(spec, "event_definition", None)
    if definition is not None:
        _check_event(check, definition, element)
    if isinstance(spec, ServiceTask):
        _check_service(check, spec, element, operators, writers)
    if isinstance(spec, UserTask):
        _check_user_task(check, spec, element, files)
    if isinstance(spec, UserTask | StartEvent):
        _check_forms(check, spec.extensions.get("properties", {}), element, files, formats)
    if isinstance(spec, BusinessRuleTaskMixin):
        _check_decision(check, spec.dmnEngine.decision_table)


def _check_event(check: _Checker, definition, element: str) -> None:
    for attribute in ("expression",):
        check.expression(getattr(definition, attribute, None), element, "event expression")
    if isinstance(definition, TimerEventDefinition):
        expression = definition.expression.strip()
        if UNQUOTED_TIMER.fullmatch(expression):
            check.add(
                f'timer expression {expression} is read as Python: quote it, "{expression}"',
                element,
            )
        elif not check_source(expression, "eval"):
            problem = _timer_problem(definition)
            if problem:
                check.add(problem, element)
    if isinstance(definition, MessageEventDefinition):
        props = definition.correlation_properties + getattr(definition, "process_correlations", [])
        for prop in props:
            check.expression(prop.retrieval_expression, element, f"correlation '{prop.name}'")
    for sub in getattr(definition, "event_definitions", []):
        _check_event(check, sub, element)


def _check_service(
    check: _Checker,
    spec,
    element: str,
    operators: Mapping[str, Callable],
    writers: Collection[str],
) -> None:
    for name, param in spec.operation_params.items():
        check.expression(param.get("value"), element, f"parameter '{name}'")
    operator = operators.get(spec.operation_name)
    if operator is None:
        known = ", ".join(sorted(operators)) or "none"
        check.add(
            f"service operator '{spec.operation_name}' does not exist (known: {known})", element
        )
        return
    given = dict.fromkeys(spec.operation_params)
    if takes_idempotency_key(operator):
        process = check.owners.get(element, "?")
        if process not in writers:
            allowed = ", ".join(sorted(writers)) or "none"
            check.add(
                f"service operator '{spec.operation_name}' writes to a registry: process"
                f" '{process}' may not use it (the registry_writers setting allows: {allowed})",
                element,
            )
        if IDEMPOTENCY_KEY in given:
            check.add(
                f"service operator '{spec.operation_name}': '{IDEMPOTENCY_KEY}' is given by"
                " the runtime (the application number and the step), not by the diagram",
                element,
            )
            return
        given[IDEMPOTENCY_KEY] = None
    try:
        inspect.signature(operator).bind(**given)
    except TypeError as error:
        check.add(f"service operator '{spec.operation_name}': {error}", element)


def _check_user_task(check: _Checker, spec, element: str, files: Mapping[str, bytes]) -> None:
    properties = spec.extensions.get("properties", {})
    for key in ("assignee", "dueIn"):
        check.expression(properties.get(key), element, f"property '{key}'")
    instructions = spec.extensions.get("instructionsForEndUser")
    if instructions:
        _check_instructions(check, instructions, element)


def _check_forms(
    check: _Checker,
    properties: Mapping[str, str],
    element: str,
    files: Mapping[str, bytes],
    formats: Collection[str],
) -> None:
    for key in ("formJsonSchemaFilename", "formUiSchemaFilename"):
        name = properties.get(key)
        if not name:
            continue
        if name not in files:
            check.add(
                f"form file '{name}' is not in the bundle; add it beside the diagram", element
            )
            continue
        try:
            schema = inputs.loads(files[name])
        except ValueError:
            continue  # reported once for the file itself
        if key == "formJsonSchemaFilename":
            for reason in schema_problems(schema, formats):
                check.add(f"form '{name}': {reason}", element)


def _check_instructions(check: _Checker, text: str, element: str) -> None:
    """Refuse instructions that do not parse, or that blow the budget rendered without data."""
    problems = scripting.check_template(text)
    if not problems:
        try:
            scripting.render(text, {})
        except ScriptError as error:
            problems = [str(error)]
        except Exception:  # noqa: BLE001  # nosec B110
            pass  # depends on data: rendered when the task is ready
    for reason in problems:
        check.add(f"instructions: {reason}", element)


def _check_decision(check: _Checker, table) -> None:
    """Translate every input entry to Python and check inputs, entries and outputs."""
    if table.hit_policy not in ENFORCED_HIT_POLICIES:
        check.add(
            f"hit policy {table.hit_policy} is not enforced by SpiffWorkflow (the first matching"
            " rule would win): use FIRST with the rules in order, or COLLECT",
            table.id,
        )
    for table_input in table.inputs:
        check.expression(table_input.expression, table.id, f"input '{table_input.label}'")
    for element, reason in decisions.translate(table):
        check.add(reason, element)
    for rule in table.rules:
        for entry in rule.inputEntries:
            for python in entry.lhs:
                if python is not None:
                    check.expression(
                        python.replace("?", "dmninputexpr"),
                        entry.id or table.id,
                        f"rule {rule.row_number} input entry",
                    )
        for output in rule.outputEntries:
            text = (output.text or "").strip()
            if text in ("true", "false", "null"):
                check.add(
                    f"rule {rule.row_number}: output '{text}' is FEEL; write "
                    f"{decisions.FEEL_WORDS[text]}",
                    output.id or table.id,
                )
            else:
                check.expression(text, output.id or table.id, f"rule {rule.row_number} output")
