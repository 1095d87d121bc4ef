"""The engine levers' gains: CPU per counter registration in memory, stock against each lever.

One counter registration (start, run until the counter check, complete it, run to the end) on
the deployed registration's specs, its registry answers recorded once from the sandbox and then
given at once, so the figures are SpiffWorkflow's alone. Variants take turns, one registration
each per round: stock SpiffWorkflow, each lever alone, every lever; and stock against every
lever with the state saved and loaded between the two steps, as the runtime does, with and
without the serializer's lever `kept`.
"""

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from service_tasks.identifiers import SCHEMA_FORMATS
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from webapp.bootstrap import bundles, product_runtime, read_bundle
from webapp.runtime import decisions, levers
from webapp.runtime.forms import FORMATS
from webapp.runtime.scripting import restricted_engine, writes_keyed_by
from webapp.runtime.serializer import StateSerializer
from webapp.runtime.specs import parse_bundle
from webapp.runtime.versions import wire_event_subprocess_triggers
from webapp.settings import REGISTRY_WRITERS

from .loadtest import dataset
from .loadtest.scenario import CHECK
from .registration import PROCESS_ID, _canned, cpu_medians, recorded_answers
from .report import table

ROOT = Path(__file__).resolve().parents[1]
RUNS = 100
WARMUP = 5


class Variant:
    """A way to run the registration: workflow class, serializer and specs."""

    def __init__(
        self, files: dict, operators: dict, engine, chosen: frozenset[str], saved: bool = False
    ) -> None:
        self.engine = engine
        self.saved = saved
        workflow_levers = chosen & set(levers.WORKFLOW_LEVERS)
        self.workflow = levers.workflow_class(workflow_levers) if workflow_levers else BpmnWorkflow
        tuned = self.workflow is not BpmnWorkflow
        self.serializer = (
            levers.TunedSerializer(self.workflow, kept="kept" in chosen)
            if tuned
            else StateSerializer()
        )
        bundle = parse_bundle(files, operators, FORMATS | set(SCHEMA_FORMATS), REGISTRY_WRITERS)
        process = bundle.processes[PROCESS_ID]
        self.spec, self.subprocess_specs = process.spec, process.subprocess_specs
        wire_event_subprocess_triggers(self.spec)
        if "decisions" in chosen:
            decisions.cache_decisions(self.spec, self.subprocess_specs)

    def registration(self, application: dict) -> None:
        """Start, run to the counter check, complete it, run to the end."""
        with writes_keyed_by(application["number"]):
            workflow = self.workflow(self.spec, self.subprocess_specs, script_engine=self.engine)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.set_data(**application["data"])
            workflow.do_engine_steps()
            if self.saved:
                state = self.serializer.dump(workflow)
                workflow = self.serializer.load(
                    state, self.spec, self.subprocess_specs, self.engine
                )
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.set_data(**CHECK)
            task.run()
            workflow.do_engine_steps()
            assert workflow.completed
            if self.saved:
                self.serializer.dump(workflow)


def _timed(variant: Variant, application: dict) -> Callable[[], float]:
    def work() -> float:
        began = time.process_time()
        variant.registration(application)
        return (time.process_time() - began) * 1000

    return work


def run(runs: int = RUNS) -> dict[str, float]:
    """Measure and print the CPU per registration of each variant; return the medians."""
    [bundle] = bundles([ROOT / "processes" / PROCESS_ID])
    files = read_bundle(bundle)
    settings = json.loads((ROOT / "processes" / "settings.json").read_text())
    data, applications = dataset.build(3)
    [application] = [a for a in applications if a["path"] == "counter"]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'registries.db'}"
        store = SandboxStore(url)
        store.load_dataset(data)
        operators = build_operators({"registry_mode": "sandbox", "registry_url": url})
        recorder = product_runtime(None, operators, settings, list)
        sandbox = Variant(files, operators, recorder.script_engine, frozenset())
        answers = recorded_answers(recorder, lambda: sandbox.registration(application))
        store.dispose()
    canned = {name: _canned(answer) for name, answer in answers.items()}
    engine = restricted_engine({"config": recorder.setting}, canned)
    names = {
        "stock SpiffWorkflow": frozenset(),
        **{f"lever {name} alone": frozenset({name}) for name in sorted(levers.ALL)},
        "every lever": levers.ALL,
    }
    variants = {label: Variant(files, operators, engine, chosen) for label, chosen in names.items()}
    saved = {
        "stock, state saved and loaded": Variant(files, operators, engine, frozenset(), saved=True),
        "every lever but kept, state saved and loaded": Variant(
            files, operators, engine, levers.ALL, saved=True
        ),
        "every lever, state saved and loaded": Variant(
            files, operators, engine, levers.ALL | {"kept"}, saved=True
        ),
    }
    works = {label: _timed(v, application) for label, v in {**variants, **saved}.items()}
    cpu_medians(works, WARMUP)
    medians = cpu_medians(works, runs)
    stock, stock_saved = medians["stock SpiffWorkflow"], medians["stock, state saved and loaded"]
    rows = [
        (label, f"{ms:.2f}", f"{ms / (stock_saved if 'saved' in label else stock):.2f}")
        for label, ms in medians.items()
    ]
    table(
        f"Engine levers: CPU ms per counter registration in memory, medians of {runs} "
        "interleaved runs (ratio to stock)",
        ("variant", "CPU ms", "ratio"),
        rows,
    )
    return medians


if __name__ == "__main__":
    run()
