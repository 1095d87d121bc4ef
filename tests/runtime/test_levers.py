"""The engine levers change no result: every diagram runs alike with stock SpiffWorkflow and them.

Each diagram of the shared corpus (SpiffWorkflow's own test diagrams) and of `processes/` is run
twice in memory, once with stock SpiffWorkflow (its workflow, task and iterator classes, the
stock DMN engine, the plain state serializer) and once with every lever on. Both runs start
with the same data, complete the first ready user task with the same data, let every timer
fall due (the timers' clock stopped), and save and load the state between steps, until the
workflow ends or stands still.
After every step the task tree (spec names, states, parent and child order, in depth-first
order), every task's data and the state document must be equal, and every task read from the
document alone must have the spec and data it is restored with. Task ids, times and thread
ids differ between any two runs and are compared by position.
"""

import copy
import json
import pickle
import re
import zlib
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions import timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.identifiers import SCHEMA_FORMATS
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.processes.driver import SETTINGS
from webapp.bootstrap import bundles, product_runtime, read_bundle
from webapp.runtime import decisions, levers
from webapp.runtime.decisions import DecisionEngine, DecisionParser, translate
from webapp.runtime.forms import FORMATS
from webapp.runtime.scripting import restricted_engine, writes_keyed_by
from webapp.runtime.scripting.comparisons import comparison
from webapp.runtime.serializer import StateSerializer
from webapp.runtime.specs import parse_bundle
from webapp.runtime.task_ids import TaskId
from webapp.runtime.versions import wire_event_subprocess_triggers
from webapp.settings import REGISTRY_WRITERS as WRITERS
from webapp.simulation import routing

from .test_corpus import (
    CORPUS,
    REFUSED,
    SKIPPED,
    START_DATA,
    TASK_DATA,
    _called,
    _processes,
    bundle_of,
    standalone_diagrams,
)

ROOT = Path(__file__).resolve().parents[2]
PROCESS_CASES = ROOT / "processes" / "residence_registration" / "test_residence_registration.json"
MAX_STEPS = 40
CALLS = ("call_parent.bpmn", "call_child.bpmn")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")
# Diagrams the in-memory drive cannot start, and why (the runtime's own test drives them).
NOT_DRIVEN = {
    "bpmn/data/collaboration.bpmn": "its processes start from each other's messages",
}


class FrozenClock(datetime):
    """The wall clock SpiffWorkflow's timers read, stopped: a timer falls due when made to."""

    instant = datetime.now(UTC).replace(microsecond=0)

    @classmethod
    def now(cls, tz=None):
        return cls.instant.astimezone(tz) if tz else cls.instant.replace(tzinfo=None)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    """Stop the clock for timers and for making them due, so both runs see the same time.

    On a busy machine a short timer could fall due in one run and not the other.
    """
    monkeypatch.setattr(timer, "datetime", FrozenClock)
    monkeypatch.setattr(routing, "datetime", FrozenClock)


class Variant:
    """Stock SpiffWorkflow or the levers: a workflow class, a serializer, the DMN engine."""

    def __init__(self, tuned: bool) -> None:
        self.tuned = tuned
        self.serializer = levers.TunedSerializer() if tuned else StateSerializer()
        self.workflow_class = levers.TunedWorkflow if tuned else BpmnWorkflow

    def specs(self, files: dict[str, bytes], process_id: str, engine):
        """Parse a bundle afresh (specs hold the DMN engine) and return a process's specs."""
        bundle = parse_bundle(files, engine.operators, FORMATS | set(SCHEMA_FORMATS), WRITERS)
        process = bundle.processes[process_id]
        wire_event_subprocess_triggers(process.spec)
        if self.tuned:
            decisions.cache_decisions(process.spec, process.subprocess_specs)
        return process.spec, process.subprocess_specs


def normalised(workflow, document: bytes) -> object:
    """Return the state document with ids by position and times and thread ids left out."""
    text = zlib.decompress(document).decode()
    positions: dict[str, str] = {}
    for task in _all_tasks(workflow):
        positions.setdefault(str(task.id), f"task-{len(positions)}")
    text = UUID.sub(lambda m: positions.get(m.group(), "other-id"), text)
    text = INSTANT.sub("<time>", text)
    dct = json.loads(text)
    for tasks in _task_tables(dct):
        for task in tasks.values():
            task.pop("last_state_change")
    return dct


def _task_tables(dct: dict):
    yield dct["tasks"]
    for subprocess in dct["subprocesses"].values():
        yield subprocess["tasks"]


def _all_tasks(workflow):
    """Yield every task, subprocesses included, depth-first (stock SpiffWorkflow's walk)."""
    return BpmnWorkflow.get_tasks(workflow)


def tree(workflow) -> list:
    """Return the task tree and data: spec, state, parent and children by position, data."""
    tasks = _all_tasks(workflow)
    position = {task.id: index for index, task in enumerate(tasks)}
    rows = [
        (
            task.task_spec.name,
            TaskState.get_name(task.state),
            position.get(task._parent),
            [position.get(child) for child in task._children],
            json.dumps(task.data, sort_keys=True, default=str),
        )
        for task in tasks
    ]
    rows.append(("workflow", workflow.completed, json.dumps(workflow.data, default=str)))
    return rows


def _fire_timers(workflow) -> bool:
    """Make every waiting timer due and let the workflow see it; return whether any was."""
    timers = [
        task
        for task in _all_tasks(workflow)
        if task.state == TaskState.WAITING
        and isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
    ]
    for task in timers:
        routing._expire(task)
    workflow.refresh_timers()
    return bool(timers)


def assert_read_alike(serializer, document: bytes, loaded, specs) -> None:
    """Assert each task read from the document alone has the spec and data it is restored
    with (the task pages and documents to sign read tasks so)."""
    for task in _all_tasks(loaded):
        read = serializer.task(document, task.id, *specs)
        assert read is not None, task
        assert (read.task_spec, read.data) == (task.task_spec, task.data), task
    assert serializer.task(document, uuid4(), *specs) is None


def run(variant: Variant, specs, engine, start_data: dict, given: dict, default: dict) -> list:
    """Drive a workflow to its end or until it stands still; return what it was each step.

    A user task is completed with the next data `given` for its element, else `default`.
    """
    spec, subprocess_specs = specs
    given = {bpmn_id: list(queue) for bpmn_id, queue in given.items()}
    workflow = variant.workflow_class(spec, subprocess_specs, script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.set_data(**start_data)
    seen = []
    for _ in range(MAX_STEPS):
        try:
            with writes_keyed_by("LEVERS-1"):
                workflow.do_engine_steps()
        except Exception as error:  # noqa: BLE001  (a diagram's own failure ends both alike)
            seen.append(("failed", type(error).__name__, INSTANT.sub("<time>", str(error))))
            return seen
        document = variant.serializer.dump(workflow)
        seen.append((tree(workflow), normalised(workflow, document)))
        loaded = variant.serializer.load(document, spec, subprocess_specs, engine)
        assert isinstance(loaded, variant.workflow_class)
        if variant.tuned:
            assert_read_alike(variant.serializer, document, loaded, specs)
        # Every other step the tuned run goes on with the workflow it saved, as the runtime's
        # warm workflows do: the documents its tasks keep are then built, not loaded.
        if not (variant.tuned and len(seen) % 2):
            workflow = loaded
        if workflow.is_completed():
            return seen
        ready = workflow.get_tasks(state=TaskState.READY, manual=True)
        if ready:
            queue = given.get(ready[0].task_spec.bpmn_id)
            ready[0].set_data(**(queue.pop(0) if queue else default))
            ready[0].run()
        elif not _fire_timers(workflow):
            return seen
    return seen


def compare(files: dict[str, bytes], process_id: str, start: dict, given: dict, default: dict,
            engines=None) -> str:  # fmt: skip
    """Run a process both ways, assert each step is the same; return how the run ended.

    `engines` returns a fresh script engine for each run (registries of its own).
    """
    engines = engines or restricted_engine
    stock, tuned = Variant(tuned=False), Variant(tuned=True)
    engine = engines()
    expected = run(stock, stock.specs(files, process_id, engine), engine, start, given, default)
    engine = engines()
    got = run(tuned, tuned.specs(files, process_id, engine), engine, start, given, default)
    assert len(got) == len(expected)
    for step, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"step {step} differs"
    last = expected[-1]
    if last[0] == "failed":
        return "failed"
    return "ended" if last[0][-1][1] else "waits"


def first_process(files: dict[str, Path], main_file: Path) -> str:
    """Return the process the corpus test starts: the file's own, not called, not by message."""
    own = _processes(main_file) - set().union(*(_called(p) for p in files.values()))
    return sorted(own)[0]


def drivable() -> list[str]:
    return [d for d in standalone_diagrams() if d not in SKIPPED and d not in REFUSED]


COVERAGE: dict[str, str] = {}


@pytest.mark.skipif(CORPUS is None, reason="the SpiffWorkflow corpus is absent")
@pytest.mark.parametrize("diagram", drivable())
def test_a_corpus_diagram_runs_alike_with_and_without_the_levers(diagram):
    if diagram in NOT_DRIVEN:
        COVERAGE[diagram] = "skipped"
        pytest.skip(NOT_DRIVEN[diagram])
    path = CORPUS / diagram
    paths = {p.name: p for p in bundle_of(path)}
    files = {name: p.read_bytes() for name, p in paths.items()}
    COVERAGE[diagram] = compare(
        files,
        first_process(paths, path),
        START_DATA.get(diagram, {}),
        {},
        TASK_DATA.get(diagram, {}),
    )


def process_cases() -> list[str]:
    return sorted(json.loads(PROCESS_CASES.read_text()))


@pytest.mark.parametrize("case", process_cases())
def test_a_registration_case_runs_alike_with_and_without_the_levers(case, tmp_path):
    [bundle] = bundles([ROOT / "processes" / "residence_registration"])
    files = read_bundle(bundle)
    tasks = json.loads(PROCESS_CASES.read_text())[case]["tasks"]
    given = {key.split(":")[1]: list(value["data"]) for key, value in tasks.items()}
    [start] = given.pop("StartEvent_ApplicationSubmitted")
    runs, stores = iter(range(2)), []

    def engine():
        """Return the product's script engine over sandbox registries of the run's own."""
        url = f"sqlite:///{tmp_path / f'registries-{next(runs)}.db'}"
        store = SandboxStore(url)
        store.load_dataset(json.loads(DEFAULT_DATASET_PATH.read_text()))
        stores.append(store)
        operators = build_operators({"registry_mode": "sandbox", "registry_url": url})
        return product_runtime(None, operators, SETTINGS, list).script_engine

    try:
        COVERAGE[f"processes:{case}"] = compare(
            files, "residence_registration", start, given, {}, engine
        )
    finally:
        for store in stores:
            store.dispose()


def test_the_levers_cover_the_corpus(record_property):
    """Runs after the diagrams above and sums them up."""
    if CORPUS is None or not set(drivable()) <= set(COVERAGE):
        pytest.skip("only part of the diagrams ran (a selection of tests)")
    counts = {kind: sum(1 for r in COVERAGE.values() if r == kind) for kind in {*COVERAGE.values()}}
    record_property("levers_coverage", counts)
    print(f"\nlevers identity: {len(COVERAGE)} runs: {counts}")
    print("\n".join(f"  {name}: {kind}" for name, kind in sorted(COVERAGE.items())))
    assert counts.get("ended", 0) + counts.get("waits", 0) >= 60


def test_state_documents_load_both_ways_and_the_runtime_restores_tuned_workflows(runtime):
    files = {n: (Path(__file__).with_name("diagrams") / n).read_bytes() for n in CALLS}
    process = parse_bundle(files, {}).processes["call_parent"]
    spec, subprocess_specs = process.spec, process.subprocess_specs
    stock = BpmnWorkflow(spec, subprocess_specs, script_engine=runtime.script_engine)
    stock.do_engine_steps()
    assert stock.subprocesses
    plain = StateSerializer()

    restored = runtime.serializer.load(plain.dump(stock), spec, subprocess_specs, None)
    assert isinstance(restored, levers.TunedWorkflow)
    sub = next(iter(restored.subprocesses.values()))
    assert isinstance(sub, levers.TunedWorkflow.subworkflow_class)
    restored_tasks = [*restored.tasks.values(), *sub.tasks.values()]
    assert all(type(t) is levers.TunedWorkflow.task_class for t in restored_tasks)
    assert all(type(t.id) is TaskId for t in restored_tasks)
    back = plain.load(runtime.serializer.dump(restored), spec, subprocess_specs, None)
    assert type(back) is BpmnWorkflow and tree(back) == tree(stock)


def test_a_task_id_is_its_uuid_with_its_hash_and_text_kept():
    plain = uuid4()
    kept = TaskId(plain)
    assert kept == plain and plain == kept and hash(kept) == hash(plain)
    assert str(kept) == str(plain) and str(kept) is str(kept)
    assert {plain: "found"}[kept] == "found" and {kept: "found"}[plain] == "found"
    for copied in (copy.copy(kept), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert type(copied) is TaskId and copied == plain and hash(copied) == hash(plain)
    new = [TaskId() for _ in range(1000)]
    assert len(set(new)) == 1000 and {i.version for i in new} == {4}


class Items(list):
    """A list subclass: the stock merge copies it with `copy.copy`, as the lever does."""


def test_inherited_data_is_copied_and_shared_as_the_stock_merge_does():
    parent = SimpleNamespace(data={
        "person": {"iin": "850314304175", "documents": [{"kind": "id_card"}]},
        "owners": ["621102401239"], "seen": {"a"}, "items": Items([1]),
        "ordered": OrderedDict(a=1), "pair": (1, [2]), "text": "x", "count": 3, "none": None,
    })  # fmt: skip
    stock, tuned = (SimpleNamespace(data={}, parent=parent) for _ in range(2))
    Task._inherit_data(stock)
    levers.InheritingTask._inherit_data(tuned)
    assert tuned.data == stock.data and list(tuned.data) == list(stock.data)
    for key, value in parent.data.items():
        assert type(tuned.data[key]) is type(stock.data[key]), key
        assert (tuned.data[key] is value) == (stock.data[key] is value), key
        if isinstance(value, dict | list | tuple):
            # A shallow copy: what a copied value holds is shared, as stock shares it.
            held = [v.values() if isinstance(v, dict) else v for v in (tuned.data[key], value)]
            assert all(a is b for a, b in zip(*held, strict=True)), key


def test_a_task_saved_with_its_data_whole_is_read_with_it(runtime):
    """Documents saved before SpiffWorkflow kept data deltas hold each task's data whole."""
    files = {n: (Path(__file__).with_name("diagrams") / n).read_bytes() for n in CALLS}
    process = parse_bundle(files, {}).processes["call_parent"]
    specs = process.spec, process.subprocess_specs
    workflow = BpmnWorkflow(*specs, script_engine=runtime.script_engine)
    workflow.do_engine_steps()
    for number, task in enumerate(_all_tasks(workflow)):
        task.data = {**task.data, "number": number}
    dct = json.loads(zlib.decompress(runtime.serializer.dump(workflow)))
    whole = {str(task.id): task.data for task in _all_tasks(workflow)}
    for tasks in _task_tables(dct):
        for task_id, task in tasks.items():
            task["data"], task["delta"] = whole[task_id], {}
    document = zlib.compress(json.dumps(dct).encode())
    for task in _all_tasks(workflow):
        assert runtime.serializer.task(document, task.id, *specs).data == task.data


def test_a_kept_document_saves_a_value_changed_in_place_as_it_now_is(runtime):
    """SpiffWorkflow's merges change nested values that finished tasks share with later ones;
    a kept document, built or loaded, saves them as a document built afresh does."""
    files = {
        "exclusive.bpmn": (Path(__file__).with_name("diagrams") / "exclusive.bpmn").read_bytes()
    }
    process = parse_bundle(files, {}).processes["exclusive"]
    spec, subprocess_specs, engine = process.spec, process.subprocess_specs, runtime.script_engine
    kept, afresh = levers.TunedSerializer(), levers.TunedSerializer(kept=False)
    workflow = levers.TunedWorkflow(spec, subprocess_specs, script_engine=engine)
    for task in workflow.get_tasks(state=TaskState.READY):  # the root: its data saved whole
        task.set_data(urgent=False, days=5, case={"owner": {"name": "Aigerim"}})
    workflow.do_engine_steps()
    [handle] = workflow.get_tasks(state=TaskState.READY, manual=True)
    handle.set_data(decision={"by": {"name": "Aigerim"}})  # in the task's delta
    handle.run()
    workflow.do_engine_steps()
    loaded = kept.load(kept.dump(workflow), spec, subprocess_specs, engine)
    for each in (workflow, loaded):
        [handled] = [t for t in each.tasks.values() if t.task_spec.bpmn_id == "Task_Standard"]
        handled.data["case"]["owner"]["name"] = handled.data["decision"]["by"]["name"] = "Dana"
        document = json.loads(zlib.decompress(kept.dump(each)))
        assert document == json.loads(zlib.decompress(afresh.dump(each)))
        assert "Aigerim" not in json.dumps(document["tasks"])


# One cell per rule, tested against its input; the other inputs' cells are empty. The cells
# are FEEL unary tests, translated to Python tests over `?` as deployment translates them.
CELLS = (
    ("age", "&lt; 16"),
    ("age", "&gt;= -1"),
    ("age", "[1..5)"),
    ("age", "not(3, 10)"),
    ("kind", '"parent"'),
    ("kind", '"a","b"'),
    ("kind", 'not in ("a",)'),
    ("kind", '"why?"'),
    ("kind", "null"),
    ("x or y", "1"),
    ("age + 1", "&gt; 17"),
    ("age", "len(kind) + 3"),
    ("age", 'date("2020-01-01")'),
)
INPUTS = tuple(dict.fromkeys(expression for expression, _cell in CELLS))


def decision_table():
    """Return a COLLECT table of CELLS, which tests every rule of every decision."""
    inputs = "".join(
        f'<input id="I{n}"><inputExpression id="E{n}"><text>{e}</text></inputExpression></input>'
        for n, e in enumerate(INPUTS)
    )
    rules = "".join(
        f'<rule id="R{r}">'
        + "".join(
            f'<inputEntry id="C{r}_{n}"><text>{cell if e == expression else "-"}</text>'
            "</inputEntry>"
            for n, e in enumerate(INPUTS)
        )
        + f'<outputEntry id="O{r}"><text>{r}</text></outputEntry></rule>'
        for r, (expression, cell) in enumerate(CELLS)
    )
    xml = (
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="D" name="D" '
        'namespace="t"><decision id="cells" name="cells">'
        f'<decisionTable id="T" hitPolicy="COLLECT">{inputs}'
        f'<output id="O" name="rule" typeRef="integer"/>{rules}</decisionTable>'
        "</decision></definitions>"
    )
    parser = DecisionParser()
    parser.add_dmn_str(xml)
    table = parser.get_engine("cells", None).decision_table
    assert translate(table) == []
    return table


def outcome(engine, data: dict) -> object:
    """Return the rows a decision matches, or its error as a decision asked by name reports it
    (the engine over plain data, whose errors need no workflow around the task)."""
    engine_over_data = restricted_engine().over_data()
    task = SimpleNamespace(data=data, workflow=SimpleNamespace(script_engine=engine_over_data))
    try:
        return [rule.row_number for rule in engine.decide(task)]
    except Exception as error:  # noqa: BLE001  (the error is the outcome compared)
        return type(error).__name__, str(error), getattr(error, "notes", None)


@pytest.mark.parametrize("age", [10, 16, 18, 3, None, "x"])
@pytest.mark.parametrize("kind", ["parent", "a", "c", "why?", None])
@pytest.mark.parametrize("x", [0, 1, 2])
def test_a_decision_cell_matches_and_fails_alike_with_and_without_the_lever(age, kind, x):
    table = decision_table()
    for y in (0, 1, None):
        data = {"age": age, "kind": kind, "x": x, "y": y}
        if y is None:  # data named like the placeholder
            data["dmninputexpr"] = 3
        stock = outcome(DecisionEngine(table), dict(data))
        assert outcome(decisions.CachedDecisionEngine(table), dict(data)) == stock, data


@pytest.mark.parametrize(
    ("cell", "plain"),
    [
        ("(dmninputexpr < 16)", True),
        ("(dmninputexpr == 'a') or (dmninputexpr == 'b')", True),
        ("not ((dmninputexpr == 3) or (dmninputexpr == -10))", True),
        ("(1 <= dmninputexpr < 5)", True),
        ("(dmninputexpr in ('a', ['b'], {1}))", True),
        ("(dmninputexpr == len(kind))", False),
        ("(dmninputexpr == kind)", False),
        ("(dmninputexpr == 10 ** 10)", False),
        ("(dmninputexpr.real == 1)", False),
        ("(dmninputexpr == " + "9" * 5000 + ")", False),
        ("(dmninputexpr == [x for x in 'ab'])", False),
    ],
)
def test_only_a_cell_of_comparisons_with_literals_runs_outside_the_script_engine(cell, plain):
    """Anything that could call, read a name or compute is left to the engine and its budget."""
    assert (comparison(cell, "dmninputexpr") is not None) is plain
