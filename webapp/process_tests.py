"""Run a process's test cases (SpiffArena's `test_<name>.json` shape) through the real runtime.

A test file beside `<name>.bpmn` maps case names to
`{"tasks": {"<bpmn id>" or "<process id>:<bpmn id>": {"data": [{...}, ...]}},
"expected_output_json": {...}}`. The start event's entry gives the data the process starts
with; each user task's entry gives, in order, the data each of its instances is completed with.
Service tasks call the sandbox registries holding the default data set. Acts the diagram
requires to be signed (an online start, an owner's consent) are signed by the runner as the
person the diagram names, with certificates of a throwaway test CA that only this run's runtime
trusts: a case gives the answers, and the runtime verifies the signatures as it always does.
The case passes when the instance completes and its data holds every expected key with the
expected value.
"""

import json
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from webapp.bootstrap import product_runtime
from webapp.db.base import utcnow
from webapp.db.models import ProcessVersion
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime import inputs
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import TirkeuError
from webapp.runtime.xmlsafe import parse_xml
from webapp.settings import REGISTRY_WRITERS
from webapp.signing import DemoSigner

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
MAX_STEPS = 200
# Timers fire when nothing else can happen: jump past any deadline a process sets.
FAR_FUTURE = timedelta(days=800)


@dataclass(frozen=True)
class CaseResult:
    """The verdict of one test case."""

    file: str
    case: str
    passed: bool
    message: str
    data: dict


def is_test_file(name: str) -> bool:
    """Tell whether a bundle file holds process test cases."""
    return name.startswith("test_") and name.endswith(".json")


def _bpmn_id(key: str) -> str:
    return key.rsplit(":", 1)[-1]


def _start_event(bpmn: bytes, process_id: str) -> str | None:
    tree = parse_xml(bpmn)
    for process in tree.iterfind(f"{BPMN}process"):
        if process.get("id") == process_id:
            for start in process.iterfind(f"{BPMN}startEvent"):
                if not any(child.tag.endswith("EventDefinition") for child in start):
                    return start.get("id")
    return None


def _mismatches(expected: Mapping, actual: Mapping) -> list[str]:
    return [
        f"{key}: expected {value!r}, got {actual.get(key, '(missing)')!r}"
        for key, value in expected.items()
        if actual.get(key, object()) != value
    ]


def _drive(
    runtime: Runtime, process_id: str, start_id: str | None, case: Mapping, signer: DemoSigner
) -> tuple:
    """Start the process and complete its tasks from the case; return (message, data)."""
    queues = {_bpmn_id(k): list(v.get("data") or []) for k, v in case.get("tasks", {}).items()}
    start_data = (queues.pop(start_id, None) or [{}])[0] if start_id else {}
    start_data = signer.signed(start_data, runtime.start_signing(process_id, start_data))
    view = runtime.start(process_id, start_data, actor="process-tests")
    for _step in range(MAX_STEPS):
        if view.status != "waiting":
            break
        open_incidents = [i for i in view.incidents if i.status == "open"]
        if open_incidents:
            return f"incident: {open_incidents[0].message}", view.data
        ready = runtime.ready_tasks(view.id)
        if not ready:
            if not runtime.run_due_jobs(now=utcnow() + FAR_FUTURE):
                return "the instance waits with no task ready and no timer due", view.data
            view = runtime.instance(view.id)
            continue
        task = ready[0]
        queue = queues.get(task.bpmn_id)
        if not queue:
            return f"task {task.bpmn_id} is ready but the case gives it no more data", view.data
        actor = task.assignee or task.role or "process-tests"
        answer = queue.pop(0)
        answer = signer.signed(answer, runtime.task_signing(task.id, answer))
        view = runtime.complete(task.id, answer, actor=actor)
    if view.status != "completed":
        return f"the instance ended {view.status}, not completed", view.data
    return "", view.data


def run_case(
    files: Mapping[str, bytes],
    test_file: str,
    case_name: str,
    case: Mapping,
    config: Mapping,
    writers: Collection[str] = REGISTRY_WRITERS,
) -> CaseResult:
    """Run one case on a throwaway database and sandbox registries of its own.

    The bundle is checked as a real deployment would be (`writers` names the processes that
    may write to registries), so what passes here would deploy.
    """
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'tirkeu.db'}")
        registry_url = f"sqlite:///{Path(folder) / 'registries.db'}"
        store = SandboxStore(registry_url)
        try:
            upgrade(engine)
            store.load_dataset(json.loads(DEFAULT_DATASET_PATH.read_text()))
            signer = DemoSigner()
            runtime = product_runtime(
                make_session_factory(engine),
                build_operators({"registry_mode": "sandbox", "registry_url": registry_url}),
                config,
                lambda: [signer.ca.certificate_pem()],
                writers,
            )
            diagram = test_file.removeprefix("test_").removesuffix(".json")
            runtime.deploy(files, deployed_by="process-tests")
            with runtime.transaction() as session:
                rows = session.scalars(select(ProcessVersion)).all()
                process_id = next(
                    (r.process_id for r in rows if r.bpmn_file.rsplit(".", 1)[0] == diagram),
                    None,
                )
            if process_id is None:
                message = f"no process is drawn in {diagram}.bpmn"
                return CaseResult(test_file, case_name, False, message, {})
            start_id = _start_event(files[f"{diagram}.bpmn"], process_id)
            message, data = _drive(runtime, process_id, start_id, case, signer)
        except TirkeuError as error:
            fields = "".join(f"; {k}: {v}" for k, v in getattr(error, "errors", {}).items())
            return CaseResult(test_file, case_name, False, error.message + fields, {})
        finally:
            store.dispose()
            engine.dispose()
    if not message:
        message = "; ".join(_mismatches(case.get("expected_output_json", {}), data))
    return CaseResult(test_file, case_name, not message, message or "passed", data)


def run_bundle(
    files: Mapping[str, bytes], config: Mapping, writers: Collection[str] = REGISTRY_WRITERS
) -> list[CaseResult]:
    """Run every case of every test file of a bundle; the test files are deployed too."""
    results = []
    for name in sorted(files):
        if not is_test_file(name):
            continue
        try:
            cases = inputs.loads(files[name])
        except ValueError as error:
            results.append(CaseResult(name, "", False, f"not valid JSON: {error}", {}))
            continue
        for case_name, case in cases.items():
            results.append(run_case(files, name, case_name, case, config, writers))
    return results


def run_folder(
    path: Path, config: Mapping, writers: Collection[str] = REGISTRY_WRITERS
) -> list[CaseResult]:
    """Run the cases of a process folder (or of the folder of a test file)."""
    folder = path if path.is_dir() else path.parent
    suffixes = (".bpmn", ".bpmn20.xml", ".dmn", ".json")
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.endswith(suffixes)}
    results = run_bundle(files, config, writers)
    if path.is_file():
        results = [r for r in results if r.file == path.name]
    return results
