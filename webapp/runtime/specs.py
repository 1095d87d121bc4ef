"""Bundles of BPMN, DMN and form files: parse, validate everything that could fail at run time.

`parse_bundle` is the one validation shared by `tirkeu validate`, deployment and the editor:
XML safety, the BPMN and DMN schemas, SpiffWorkflow's own checks, every script and expression
against the restrictions, DMN unary tests, timer expressions, service operators and their
parameters, and the forms of user tasks and start events. The checks of the XML itself are in
`diagram_checks`, those of each parsed element in `element_checks`.

An operator that takes an idempotency key (one that writes to a registry) is refused in every
process but those the caller names: the runtime knows no operator by name.
"""

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from . import decisions, inputs, texts
from .diagram_checks import (
    BPMN,
    _add_spiff_problem,
    _check_diagram_interchange,
    _check_flow_references,
    _Checker,
)
from .element_checks import _check_decision, _check_task_spec
from .errors import InvalidDiagram, Problem
from .forms import FORMATS
from .xmlsafe import UnsafeXml, parse_xml

# `.bpmn20.xml` is the suffix other engines and their test suites give BPMN files.
SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".json")
MAX_FILES = 200
MAX_JSON_BYTES = 256 * 1024


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
