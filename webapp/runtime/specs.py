"""Bundles of BPMN, DMN and form files: parse, validate everything that could fail at run time.

`parse_bundle` is the one validation shared by `tirkeu validate`, deployment and the editor:
XML safety, the BPMN and DMN schemas, SpiffWorkflow's own checks, every script and expression
against the restrictions, DMN unary tests, timer expressions, service operators and their
parameters, and the forms of user tasks and start events.

An operator that takes an idempotency key (one that writes to a registry) is refused in every
process but those the caller names: the runtime knows no operator by name.
"""

import hashlib
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from SpiffWorkflow.spiff.specs.defaults import ServiceTask, UserTask

from . import decisions, inputs, scripting, signatures, texts
from .errors import InvalidDiagram, Problem, ScriptError
from .forms import FORMATS, schema_problems
from .scripting import IDEMPOTENCY_KEY, check_source, takes_idempotency_key
from .xmlsafe import UnsafeXml, parse_xml

# `.bpmn20.xml` is the suffix other engines and their test suites give BPMN files.
SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".json")
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
FLOW_NODE_TAGS = frozenset(
    f"{{{BPMN}}}{tag}"
    for tag in (
        "startEvent", "endEvent", "boundaryEvent", "intermediateCatchEvent",
        "intermediateThrowEvent", "task", "userTask", "serviceTask", "scriptTask",
        "businessRuleTask", "manualTask", "sendTask", "receiveTask", "callActivity",
        "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway",
        "parallelGateway", "eventBasedGateway", "complexGateway",
    )
)  # fmt: skip
# SpiffWorkflow's messages about what a bundle lacks, and what to do about it.
MISSING_HINTS = (
    ("was not found", "add the BPMN file that defines the called process to the bundle"),
    ("No DMN Diagram available", "add the DMN file that defines the decision to the bundle"),
)
MAX_FILES = 200
MAX_JSON_BYTES = 256 * 1024
UNQUOTED_TIMER = re.compile(r"R?[0-9]*/?P[0-9YMWDTHS.,]+(/.*)?", re.IGNORECASE)
ENFORCED_HIT_POLICIES = {"UNIQUE", "FIRST", "COLLECT"}


@dataclass(frozen=True)
class ParsedProcess:
    """One executable process of a bundle, with the specs of what it calls."""

    process_id: str
    name: str | None
    bpmn_file: str
    spec: object
    subprocess_specs: dict
    message_starts: tuple[str, ...]


@dataclass(frozen=True)
class Bundle:
    files: dict[str, bytes]
    content_hash: str
    processes: dict[str, ParsedProcess] = field(default_factory=dict)
    # What keeps the bundle from taking effect, though it may be proposed: missing texts.
    warnings: tuple[Problem, ...] = ()


def content_hash(files: Mapping[str, bytes]) -> str:
    """Return the hash that identifies a bundle's content, whatever the order of its files."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


class _Checker:
    """Collects problems, locating elements by id in the parsed XML."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.lines: dict[str, tuple[str, int]] = {}
        # The BPMN process each element is drawn in, whatever subprocess holds it.
        self.owners: dict[str, str] = {}

    def index(self, name: str, tree) -> None:
        for element in tree.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id:
                self.lines.setdefault(element_id, (name, element.sourceline))
        for process in tree.iterfind(f".//{{{BPMN}}}process"):
            for element in process.iter():
                if isinstance(element.tag, str) and element.get("id"):
                    self.owners.setdefault(element.get("id"), process.get("id"))

    def add(
        self,
        message: str,
        element: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        where_file, where_line = self.lines.get(element or "", (file or "?", line))
        self.problems.append(Problem(file or where_file, line or where_line, element, message))

    def expression(self, source: object, element: str, what: str, mode: str = "eval") -> None:
        if not isinstance(source, str) or not source.strip():
            return
        for reason in check_source(source.strip() if mode == "eval" else source, mode):
            self.add(f"{what}: {reason}", element)


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


def start_forms(spec, message: str | None = None) -> tuple[str, ...]:
    """Return the form files of a process's none start events, or of its start by `message`."""
    names = []
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, StartEvent):
            continue
        definition = task_spec.event_definition
        if message is None:
            if not isinstance(definition, NoneEventDefinition):
                continue
        elif not isinstance(definition, MessageEventDefinition) or definition.name != message:
            continue
        name = task_spec.extensions.get("properties", {}).get("formJsonSchemaFilename")
        if name:
            names.append(name)
    return tuple(names)


def _message_starts(spec) -> tuple[str, ...]:
    return tuple(
        task_spec.event_definition.name
        for task_spec in spec.task_specs.values()
        if isinstance(task_spec, StartEvent)
        and isinstance(task_spec.event_definition, MessageEventDefinition)
    )


def _check_diagram_interchange(check: _Checker, name: str, tree) -> None:
    """Report flow nodes without a shape, in files whose diagram draws any of their flow nodes.

    Files with no diagram of their flow nodes (written for the engine only, or exported by tools
    that name shapes after other ids) still deploy: they run the same, only no modeler draws them.
    """
    drawn = {shape.get("bpmnElement") for shape in tree.iter(f"{{{BPMNDI}}}BPMNShape")}
    nodes = [e for e in tree.iter() if e.tag in FLOW_NODE_TAGS and e.get("id")]
    if drawn.isdisjoint(node.get("id") for node in nodes):
        return
    for node in nodes:
        if node.get("id") not in drawn:
            kind = node.tag.rsplit("}", 1)[-1]
            check.add(
                f"{kind} '{node.get('id')}' has no shape in the diagram; open the file in the"
                " modeler and place it, or re-save the file from a modeler",
                node.get("id"),
                file=name,
                line=node.sourceline,
            )


def _check_flow_references(check: _Checker, name: str, tree) -> None:
    """Report each sequence flow whose source or target is no element of its process, at the
    flow's own line: SpiffWorkflow would blame the element the flow leaves instead."""
    for process in tree.iterfind(f".//{{{BPMN}}}process"):
        ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
        for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if ref not in ids:
                    what = "source" if end == "sourceRef" else "target"
                    missing = f"'{ref}' is no element of process '{process.get('id')}'"
                    check.add(
                        f"the sequence flow's {what} {missing}" if ref else f"no {end}",
                        flow.get("id"),
                        file=name,
                        line=flow.sourceline,
                    )


def _interrupting_starts(trees) -> set[str]:
    """Return the ids of the start events that interrupt their event subprocess's parent.

    SpiffWorkflow does not read `isInterrupting`; the runtime acts on this mark.
    """
    starts = set()
    for tree in trees:
        path = f".//{{{BPMN}}}subProcess[@triggeredByEvent='true']/{{{BPMN}}}startEvent"
        for start in tree.iterfind(path):
            if start.get("isInterrupting", "true").lower() != "false":
                starts.add(start.get("id"))
    return starts


def parse_bundle(
    files: Mapping[str, bytes],
    operators: Mapping[str, Callable],
    formats: Collection[str] = FORMATS,
    writers: Collection[str] = frozenset(),
    languages: Collection[str] = (),
) -> Bundle:
    """Parse and check a bundle; raise InvalidDiagram listing every problem found.

    `formats` are the JSON Schema formats the runtime checks, which forms may use; `writers`
    names the processes that may call operators that write (take an idempotency key);
    `languages` those every text of a translated bundle must have (see `texts`).
    """
    check = _Checker()
    files = dict(files)
    if len(files) > MAX_FILES:
        raise InvalidDiagram([Problem("bundle", None, None, f"more than {MAX_FILES} files")])
    trees = {}
    for name, content in sorted(files.items()):
        suffix = next((s for s in SUFFIXES if name.lower().endswith(s)), None)
        if texts.is_catalogue_file(name):
            continue  # checked with the texts it translates, once the diagrams parse
        if PurePath(name).name != name or suffix is None:
            check.add("only .bpmn, .bpmn20.xml, .dmn and .json files, named without folders,"
                      " and translations/<language>.po catalogues", file=name)  # fmt: skip
        elif suffix == ".json":
            try:
                if len(content) > MAX_JSON_BYTES:
                    raise ValueError(f"larger than {MAX_JSON_BYTES} bytes")
                inputs.loads(content)
            except ValueError as error:
                check.add(f"not valid JSON: {error}", file=name)
        else:
            try:
                trees[name] = parse_xml(content)
                check.index(name, trees[name])
            except UnsafeXml as error:
                check.add(str(error), file=name, line=error.line)
    if check.problems:
        raise InvalidDiagram(check.problems)

    for name, tree in sorted(trees.items()):
        if not name.endswith(".dmn"):
            _check_flow_references(check, name, tree)
    if check.problems:
        raise InvalidDiagram(check.problems)
    for name, tree in sorted(trees.items()):
        if not name.endswith(".dmn"):
            _check_diagram_interchange(check, name, tree)

    parser = decisions.DecisionParser(validator=VALIDATOR)
    for name, tree in sorted(trees.items(), key=lambda item: not item[0].endswith(".dmn")):
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree.getroot(), filename=name)
            else:
                parser.add_bpmn_xml(tree, filename=name)
        except (ValidationException, SpiffWorkflowException) as error:
            _add_spiff_problem(check, error, name)
    if not parser.get_process_ids() and not check.problems:
        for tree in trees.values():
            for process in tree.iterfind(f".//{{{BPMN}}}process"):
                check.add('the process is not executable: nothing of the bundle could run; set'
                          ' isExecutable="true"', process.get("id"))  # fmt: skip
        if not check.problems:
            check.add("the bundle has no BPMN process", file="bundle")
    if check.problems:
        raise InvalidDiagram(check.problems)

    # A table no task calls is still deployed and can be evaluated by name (the portal's
    # channel policy), so every table is checked, not only those business rule tasks reach.
    for decision_id, dmn_parser in sorted(parser.dmn_parsers.items()):
        try:
            _check_decision(check, parser.get_engine(decision_id, None).decision_table)
        except (ValidationException, SpiffWorkflowException) as error:
            _add_spiff_problem(check, error, dmn_parser.filename)

    interrupting = _interrupting_starts(trees.values())
    processes = {}
    for process_id in parser.get_process_ids():
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except (ValidationException, SpiffWorkflowException) as error:
            _add_spiff_problem(check, error, parser.get_process_parser(process_id).filename)
            continue
        for process_spec in (spec, *subprocess_specs.values()):
            for task_spec in process_spec.task_specs.values():
                _check_task_spec(check, task_spec, files, operators, formats, writers)
                if isinstance(task_spec, StartEvent) and task_spec.bpmn_id in interrupting:
                    task_spec.extensions["interrupting"] = True
        parser_of = parser.get_process_parser(process_id)
        processes[process_id] = ParsedProcess(
            process_id=process_id,
            name=parser_of.get_name(),
            bpmn_file=parser_of.filename,
            spec=spec,
            subprocess_specs=subprocess_specs,
            message_starts=_message_starts(spec),
        )
    text_problems = texts.problems(files, languages)
    if check.problems or not all(p.warning for p in text_problems):
        # Texts to translate are for a bundle that would run: with errors, only errors.
        raise InvalidDiagram(_unique(check.problems + [p for p in text_problems if not p.warning]))
    return Bundle(
        files=files,
        content_hash=content_hash(files),
        processes=processes,
        warnings=tuple(text_problems),
    )


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _add_spiff_problem(check: _Checker, error: Exception, name: str) -> None:
    element = getattr(error, "id", None) or None
    line = getattr(error, "line_number", None) or None
    message = str(error).split("\n")[0].strip()
    for marker, hint in MISSING_HINTS:
        if marker in message:
            message = f"{message.rstrip('. ')}: {hint}"
    check.add(
        message,
        element,
        file=getattr(error, "file_name", None) or name,
        line=int(line) if str(line or "").isdigit() else None,
    )
