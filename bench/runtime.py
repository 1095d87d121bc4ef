"""The runtime on SQLite beside in-memory SpiffWorkflow, for one realistic process path.

The process (bench/diagrams): a service task, a script task, a DMN decision, a parallel pair of
user tasks, one with a boundary timer, then a writing service task. The in-memory figure runs
the same parsed specs with the same script engine and no database; ours does the whole step:
lock, load, run, save, read models, audit events, commit.
The in-memory figure includes loading and saving the state document, as ours does.
"""

import sqlite3
import tempfile
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.runtime.serializer import StateSerializer
from webapp.runtime.specs import parse_bundle

from .report import medians_ms, table

DIAGRAMS = Path(__file__).with_name("diagrams")
RUNS = 200
START_DATA = {
    "person_iin": "850314304175",
    "applicant_type": "self",
    "application_date": "2026-11-27",
}
FORM = {"documents_ok": True}


def operators() -> dict:
    """Registry stand-ins that answer at once, so the figures are the engine's."""
    return {
        "population.person": lambda iin: {"iin": iin, "birth_date": "1985-03-14"},
        "registration.register": lambda application_number, iin: {"registration_id": "R-1"},
    }


def files() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in DIAGRAMS.iterdir()}


class InMemory:
    """Stock SpiffWorkflow alone, no engine levers, keeping each instance as its state document.

    This is the limit a persisted server approaches: the same parsed specs, script engine and
    state document as ours, with no database.
    """

    def __init__(self, runtime: Runtime) -> None:
        process = parse_bundle(files(), runtime.operators).processes["bench"]
        self.spec, self.subprocess_specs = process.spec, process.subprocess_specs
        self.engine = runtime.script_engine
        self.serializer = StateSerializer()

    def start(self) -> bytes:
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.set_data(application_number="A-1", **START_DATA)
        workflow.do_engine_steps()
        return self.serializer.dump(workflow)

    def complete_one(self, state: bytes) -> bytes:
        workflow = self.serializer.load(state, self.spec, self.subprocess_specs, self.engine)
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        task.set_data(**FORM)
        task.run()
        workflow.do_engine_steps()
        return self.serializer.dump(workflow)

    def whole(self) -> None:
        self.complete_one(self.complete_one(self.start()))


def run() -> None:
    """Measure and print start, complete, whole instance, and storage per instance."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        runtime = Runtime(make_session_factory(engine), operators(), {"service_term": "PT15M"})
        runtime.deploy(files())
        memory = InMemory(runtime)

        waiting = [memory.start() for _ in range(RUNS + 5)]
        ours_waiting = [
            runtime.start("bench", START_DATA).ready_tasks[0].id for _ in range(RUNS + 5)
        ]
        rows = [
            (
                "start until wait",
                *medians_ms(memory.start, lambda: runtime.start("bench", START_DATA), runs=RUNS),
            ),
            (
                "complete a user task",
                *medians_ms(
                    lambda: memory.complete_one(waiting.pop()),
                    lambda: runtime.complete(ours_waiting.pop(), FORM),
                    runs=RUNS,
                ),
            ),
            ("whole instance", *medians_ms(memory.whole, lambda: whole(runtime), runs=RUNS)),
        ]
        table(
            f"Runtime, SQLite file, medians of {RUNS} runs (target: ratio <= 3)",
            ("path", "in-memory ms", "persisted ms", "ratio"),
            [(name, f"{mem:.2f}", f"{ours:.2f}", f"{ours / mem:.1f}") for name, mem, ours in rows],
        )
        storage(runtime, path, engine)


def whole(runtime: Runtime) -> None:
    view = runtime.start("bench", START_DATA)
    for task in view.ready_tasks:
        view = runtime.complete(task.id, FORM)
    assert view.status == "completed"


def storage(runtime: Runtime, path: Path, engine) -> None:
    """Print the state document's size and the database bytes per completed instance."""
    waiting = runtime.start("bench", START_DATA)
    with runtime.transaction() as session:
        from webapp.db.models import Instance

        waiting_state = len(session.get(Instance, waiting.id).state)
    engine.dispose()
    before = vacuumed_size(path)
    count = 300
    for _ in range(count):
        whole(runtime)
    with runtime.transaction() as session:
        from sqlalchemy import func, select

        from webapp.db.models import Instance

        done_state = session.scalar(
            select(func.avg(func.length(Instance.state))).where(Instance.status == "completed")
        )
    engine.dispose()
    per_instance = (vacuumed_size(path) - before) / count
    table(
        "Storage per instance (target: under 12 KB per completed instance with its events)",
        ("measure", "bytes"),
        [
            ("state document, waiting at the user tasks (compressed)", waiting_state),
            ("state document, completed (compressed, mean)", round(done_state)),
            ("database bytes per completed instance", round(per_instance)),
        ],
    )


def vacuumed_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection = sqlite3.connect(path)
    connection.execute("VACUUM")
    connection.close()
    return path.stat().st_size
