"""Generality: SpiffWorkflow's own test diagrams deploy and run to their end through `tirkeu`.

The diagrams are used in place from the shared corpus beside the repository (never copied into
it). Each diagram that stands alone is deployed with the files it calls, started, and driven
with `complete`, `message` and `worker --once --now` until it ends or stops making progress.
The whole module is skipped when the corpus is absent. SQLite only: it is about diagrams.
"""

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from webapp.bootstrap import build
from webapp.cli import main
from webapp.db.models import Deployment, Instance, MessageSubscription, ProcessVersion
from webapp.db.session import make_engine, upgrade
from webapp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _find_corpus() -> Path | None:
    """Return the corpus folder: `../shared/corpus/spiffworkflow` beside the repository."""
    for base in ROOT.parents[:3]:
        folder = base / "shared" / "corpus" / "spiffworkflow"
        if folder.is_dir():
            return folder
    return None


CORPUS = _find_corpus()
pytestmark = pytest.mark.skipif(
    CORPUS is None, reason="the SpiffWorkflow corpus (../shared/corpus/spiffworkflow) is absent"
)

FAR_FUTURE = "2100-01-01T00:00:00+00:00"
MAX_ROUNDS = 40
INVALID = "bpmn/data/Invalid-Workflows"

# Every diagram of the corpus that is not driven end to end, and why.
SKIPPED = {
    # Signavio exports whose gateway conditions live in the flow names, read only by a
    # custom parser of SpiffWorkflow's own tests: SpiffBpmnParser refuses them.
    "bpmn/data/Test-Workflows/Action-Management.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Parallel-Join-Long.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Parallel-Looping-After-Join.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Parallel-Multiple-Splits.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Scripts.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Test-Workflows.bpmn20.xml": "conditions in flow names",
    "bpmn/data/Test-Workflows/Parallel-Many-Threads-At-Same-Point-Nested.bpmn20.xml": (
        "a call activity without calledElement, resolved by the test's own parser"
    ),
    # Called processes that are not in the corpus (the tests check the missing-process error).
    "bpmn/data/call_activity_nested/call_activity_level_2.bpmn": "calls Level2b, not in corpus",
    "bpmn/data/call_activity_nested/call_activity_nested.bpmn": "calls Level2b, not in corpus",
    "bpmn/data/multiple_call_activities.bpmn": "calls processes not in the corpus",
    "bpmn/data/nested_call_activity.bpmn": "calls processes not in the corpus",
    "bpmn/data/single_call_activity.bpmn": "calls a process not in the corpus",
    # Host functions: operators, data stores and forms the corpus does not contain.
    "bpmn/data/data_store.bpmn": "needs a data store implementation from the host",
    "bpmn/data/data_store_read.bpmn": "needs a data store implementation from the host",
    "bpmn/data/data_store_write.bpmn": "needs a data store implementation from the host",
    "bpmn/data/service_task.bpmn": "a service task without operator (host function)",
    "spiff/data/service_task.bpmn": "needs host operators bamboohr/weather",
    "spiff/data/service_task_retry_without_backoff.bpmn": "needs the host operator weather",
    "spiff/data/service_task_variable.bpmn": "needs the host operator bamboohr",
    "bpmn/data/custom_function_test.bpmn": "needs the host function custom_function",
    "bpmn/data/custom_function_test_call_activity.bpmn": "needs the host function custom_function",
    "bpmn/data/timer-cycle-start.bpmn": "needs the host function custom_function",
    "bpmn/data/timer-cycle.bpmn": "needs the host function custom_function",
    "spiff/data/spiff_properties.bpmn": "its form files are not in the corpus",
    "spiff/data/user_task_variable.bpmn": "its form file is not in the corpus",
    # Driven by their tests' own code, which gives each task of a loop different data.
    "bpmn/data/correlation.bpmn": "its test gives each looped task its own task_num",
    "bpmn/data/correlation_two_conversations.bpmn": "its test gives each task its own topic",
    "spiff/data/correlation.bpmn": "its test gives each looped task its own task_num",
    "spiff/data/prescript_postscript_data_object.bpmn": "its test sets a data object first",
    "bpmn/data/call_activity_nested/call_activity_level_3.bpmn": "it calls itself forever",
    # A timer built with a module the script environment does not offer.
    "bpmn/data/timer-date-start.bpmn": "its timer uses the datetime module (not offered)",
}

# Diagrams deployment refuses, with the reason: deliberately invalid ones outside
# Invalid-Workflows, and scripts or conditions that our restrictions refuse.
REFUSED = {
    "bpmn/data/data_object_invalid.bpmn": "a data object reference to nothing",
    "bpmn/data/invalid_cancel.bpmn": "a cancel event outside a transaction",
    "bpmn/data/parallel_multiinstance_invalid.bpmn": "both cardinality and input data",
    "bpmn/data/standard_loop_invalid.bpmn": "a loop without maximum or condition",
    "bpmn/data/Test-Workflows/CallActivity-Escalation-Test.bpmn20.xml": "a condition calls vars()",
    "bpmn/data/Test-Workflows/CallActivity-Escalation-Test-Sub.bpmn20.xml": "calls vars()",
    "spiff/data/correlation_two_conversations.bpmn": "its scripts import modules",
    "spiff/data/script_task_with_unit_tests.bpmn": "its script calls locals()",
}

# Diagrams meant to end in an error: an incident is their expected end.
ENDS_IN_ERROR = {
    "bpmn/data/call_activity_with_error.bpmn": "its called process deletes a missing variable",
}

# The data SpiffWorkflow's own tests give a diagram: at the start, and with every task they
# complete (gateways, loops, data objects and data outputs read these variables).
CHOICE = {"choice": "Yes"}
START_DATA = {
    "bpmn/data/Test-Workflows/Parallel-Join-Long-Inclusive.bpmn20.xml": CHOICE,
    "bpmn/data/Test-Workflows/Parallel-One-Path-Ends.bpmn20.xml": CHOICE,
    "bpmn/data/Test-Workflows/Parallel-Then-Exclusive-No-Inclusive.bpmn20.xml": CHOICE,
    "bpmn/data/Test-Workflows/Parallel-Then-Exclusive.bpmn20.xml": CHOICE,
    "bpmn/data/Test-Workflows/Parallel-Through-Same-Task.bpmn20.xml": CHOICE,
    "bpmn/data/Test-Workflows/Timer-Intermediate.bpmn20.xml": {"due_time": "2020-01-01T00:00:00"},
    "bpmn/data/call_activity_call_activity.bpmn": {"remove_this_var": 1},
    "bpmn/data/collaboration.bpmn": {"from_name": "Buddy", "to_name": "Person"},
    "bpmn/data/exclusive_gateway_no_default.bpmn": {"x": 2},
    "bpmn/data/inclusive_gateway.bpmn": {"u": 1, "v": 0, "w": 1},
    "bpmn/data/io_spec.bpmn": {"in_1": 1, "in_2": "hello"},
    "bpmn/data/lanes.bpmn": {"NeedClarification": "No"},
    "bpmn/data/parallel_multiinstance_loop_input.bpmn": {"input_data": [1, 2, 3]},
    "bpmn/data/return_to_event.bpmn": {"repeat": False},
    "bpmn/data/sequential_multiinstance_loop_input.bpmn": {"input_data": [1, 2, 3]},
    "bpmn/data/standard_loop.bpmn": {"done": False},
    "spiff/data/error_event_payload.bpmn": {"error": True, "payload": "refused"},
    "spiff/data/escalation_event_payload.bpmn": {"escalation": True, "payload": "late"},
    "spiff/data/prescript_postscript.bpmn": {"a": 1, "b": 2},
    "spiff/data/prescript_postscript_call_activity.bpmn": {"in_data": "hello"},
    "spiff/data/prescript_postscript_parent.bpmn": {"old": "hello"},
    "spiff/data/script_on_mi.bpmn": {"input_data": [1, 2, 3]},
    "spiff/data/signal_event_payload.bpmn": {"v1": 1, "v2": 2},
    "spiff/data/spiff_multiinstance.bpmn": {"input_data": [1, 2, 3]},
}
TASK_DATA = {
    "bpmn/data/conditional_event.bpmn": {"task_a_done": True, "task_c_done": True},
    "bpmn/data/data_object.bpmn": {"obj_1": "hello"},
    "bpmn/data/data_object_gateway.bpmn": {"val": True},
    "bpmn/data/io_spec_on_task.bpmn": {"out_1": 2, "out_2": "HELLO"},
    "bpmn/data/parallel_multiinstance_cardinality.bpmn": {"output_item": 1},
    "bpmn/data/sequential_multiinstance_cardinality.bpmn": {"output_item": 1},
    "bpmn/data/timer-non-interrupt-boundary.bpmn": {"work_done": "Yes"},
    "bpmn/data/transaction.bpmn": {"value": "x", "quantity": 1},
    "spiff/data/data_object.bpmn": {"obj_1": "hello", "obj_2": "world"},
    "bpmn/data/parallel_multiinstance_loop_input.bpmn": {"output_item": 1},
    "bpmn/data/sequential_multiinstance_loop_input.bpmn": {"output_item": 1},
    "spiff/data/script_on_mi.bpmn": {"output_item": 1},
    "spiff/data/spiff_multiinstance.bpmn": {"output_item": 1},
    "spiff/data/prescript_postscript.bpmn": {"z": 3},
    "spiff/data/receive_correlations.bpmn": {"value_1": "a", "value_2": "b"},
}


def _is_bpmn(path: Path) -> bool:
    return path.name.endswith((".bpmn", ".bpmn20.xml"))


def _ids(pattern: str, path: Path) -> set[str]:
    return set(re.findall(pattern, path.read_text(encoding="utf-8")))


def _processes(path: Path) -> set[str]:
    return _ids(r'<(?:\w+:)?process\b[^>]*?\bid="([^"]+)"', path)


def _called(path: Path) -> set[str]:
    return _ids(r'calledElement="([^"]+)"', path)


def _decisions(path: Path) -> set[str]:
    return _ids(r"calledDecisionId>\s*([^<\s]+)\s*<", path)


def bundle_of(diagram: Path) -> list[Path]:
    """Return a diagram with the BPMN files it calls and the DMN files it decides with."""
    folder, files = diagram.parent, {diagram.name: diagram}
    candidates = sorted(p for p in folder.rglob("*") if _is_bpmn(p) and p != diagram)
    known, wanted = set(_processes(diagram)), list(_called(diagram))
    while wanted:
        process_id = wanted.pop()
        if process_id in known:
            continue
        for candidate in candidates:
            if process_id in _processes(candidate):
                files[candidate.name] = candidate
                known |= _processes(candidate)
                wanted += _called(candidate)
                break
    decisions = set().union(*(_decisions(p) for p in files.values()))
    for dmn in sorted(folder.rglob("*.dmn")):
        if decisions & _ids(r'<(?:\w+:)?decision\b[^>]*?\bid="([^"]+)"', dmn):
            files[dmn.name] = dmn
    return list(files.values())


def standalone_diagrams() -> list[str]:
    """Return every BPMN file of the corpus outside Invalid-Workflows, relative to it."""
    if CORPUS is None:
        return []
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if _is_bpmn(p) and INVALID not in str(p.relative_to(CORPUS))
    )


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """A migrated database file, copied for each diagram (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "tirkeu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@dataclass
class Run:
    """One diagram driven through the command, on a database of its own."""

    product: object
    runner: CliRunner = field(default_factory=CliRunner)
    commands: int = 0
    refusals: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> object:
        self.commands += 1
        result = self.runner.invoke(main, [*args, "--json"], obj=self.product)
        if result.exit_code == 0:
            return json.loads(result.output)
        self.refusals.append(f"{args[0]}: {(result.output or repr(result.exception))[:300]}")
        return result

    def rows(self, *columns):
        with self.product.session_factory() as session:
            return session.execute(select(*columns)).all()


def make_run(tmp_path: Path, template_db: Path) -> Run:
    database = tmp_path / "tirkeu.db"
    shutil.copy(template_db, database)
    settings = Settings.from_env(instance_path=tmp_path, database_url=f"sqlite:///{database}")
    return Run(build(settings))


def drive(run: Run, files: list[Path], main_file: Path) -> dict[int, str]:
    """Deploy, start and drive a diagram; return the status of every instance at the end."""
    deployed = run("deploy", *map(str, files))
    assert isinstance(deployed, list), deployed.output
    executable = {d["process_id"] for d in deployed}
    own = executable & _processes(main_file) - set().union(*(_called(p) for p in files))
    starts = dict(run.rows(ProcessVersion.process_id, ProcessVersion.message_starts))
    first = [p for p in sorted(own) if not starts.get(p)] or sorted(own)[:1]
    name = str(main_file.relative_to(CORPUS))
    data, task_data = START_DATA.get(name, {}), json.dumps(TASK_DATA.get(name, {}))
    for process_id in first:
        started = run("start", process_id, "--data", json.dumps(data))
        assert isinstance(started, dict), started.output
    for _ in range(MAX_ROUNDS):
        # Time passes first: some diagrams join a timer's branch that a completion would cancel.
        moved = run("worker", "--once", "--now", FAR_FUTURE)["fired"] > 0
        for task in run("tasks"):
            moved |= isinstance(run("complete", task["id"], "--data", task_data), dict)
        for instance_id, message, correlation in run.rows(
            MessageSubscription.instance_id,
            MessageSubscription.message_name,
            MessageSubscription.correlation,
        ):
            # The waiting instance's own data as payload: correlation expressions over the
            # payload then find the names they read.
            payload = json.dumps(run("show", str(instance_id))["data"])
            sent = run("message", message, "--payload", payload,
                       "--correlation", json.dumps(correlation))  # fmt: skip
            moved |= isinstance(sent, dict)
        statuses = dict(run.rows(Instance.id, Instance.status))
        if not moved or all(s in ("completed", "error") for s in statuses.values()):
            break
    return dict(run.rows(Instance.id, Instance.status))


def explain(run: Run, statuses: dict[int, str]) -> str:
    """Describe where each instance stopped, for a failure message."""
    lines = []
    for instance_id, status in statuses.items():
        shown = run("show", str(instance_id))
        incidents = [i["message"][:200] for i in shown["incidents"]]
        tasks = [t["bpmn_id"] for t in shown["ready_tasks"]]
        waits = [w for (w,) in run.rows(MessageSubscription.message_name)]
        lines.append(f"#{instance_id} {shown['process_id']} {status}: tasks {tasks}, "
                     f"incidents {incidents}, waits {waits}")  # fmt: skip
    return "\n".join(lines + run.refusals[-3:])


RESULTS: dict[str, str] = {}


@pytest.mark.parametrize("diagram", standalone_diagrams())
def test_a_corpus_diagram_runs_to_its_end(diagram, tmp_path, template_db):
    if diagram in SKIPPED:
        RESULTS[diagram] = "skipped"
        pytest.skip(SKIPPED[diagram])
    path = CORPUS / diagram
    files = bundle_of(path)
    run = make_run(tmp_path, template_db)
    if diagram in REFUSED:
        refused = run("deploy", *map(str, files))
        assert refused.exit_code == 1 and not run.rows(ProcessVersion.id)
        RESULTS[diagram] = "refused"
        return
    statuses = drive(run, files, path)
    expected = "error" if diagram in ENDS_IN_ERROR else "completed"
    assert statuses and set(statuses.values()) == {expected}, explain(run, statuses)
    if expected == "error":
        assert all(run("show", str(i))["incidents"] for i in statuses)
    RESULTS[diagram] = expected


def invalid_workflows() -> list[str]:
    """Return the files of Invalid-Workflows, relative to the corpus."""
    if CORPUS is None:
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in (CORPUS / INVALID).iterdir())


@pytest.mark.parametrize("diagram", invalid_workflows())
def test_an_invalid_corpus_diagram_is_refused_by_validate_and_deploy(
    diagram, tmp_path, template_db
):
    run = make_run(tmp_path, template_db)
    path = CORPUS / diagram
    validated = run.runner.invoke(main, ["validate", str(path)], obj=run.product)
    assert validated.exit_code == 1
    lines = validated.output.strip().splitlines()
    assert lines and all(re.match(rf"{re.escape(str(path))}:[1-9]\d*: \S", li) for li in lines)
    deployed = run.runner.invoke(main, ["deploy", str(path)], obj=run.product)
    assert deployed.exit_code == 1 and str(path) in deployed.output
    assert run.rows(Deployment.id) == [] and run.rows(ProcessVersion.id) == []


def test_every_listed_diagram_exists_in_the_corpus():
    listed = {*SKIPPED, *REFUSED, *ENDS_IN_ERROR, *START_DATA, *TASK_DATA}
    assert listed <= set(standalone_diagrams())


def test_at_least_85_corpus_diagrams_run_to_their_end(record_property):
    """Runs after the diagrams above (pytest keeps the file's order) and sums them up."""
    if set(RESULTS) != set(standalone_diagrams()):
        pytest.skip("only part of the corpus ran (a selection of tests)")
    counts = {kind: sum(1 for r in RESULTS.values() if r == kind) for kind in set(RESULTS.values())}
    record_property("corpus_counts", counts)
    print(f"\ncorpus: {len(RESULTS)} diagrams: {counts}")
    assert counts.get("completed", 0) + counts.get("error", 0) >= 85
    assert counts["refused"] == len(REFUSED) and counts["skipped"] == len(SKIPPED)
