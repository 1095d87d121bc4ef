"""One counter registration (start, complete) measured in CPU time, side by side.

Three variants take turns, one registration each per round, so the machine's load falls on all
of them alike:
- stock SpiffWorkflow in memory: the same parsed specs and script engine, registry answers
  replayed at once, the state saved and loaded between the steps;
- our runtime in process on PostgreSQL with the sandbox registries;
- the same through the HTTP API (Flask's test client): our process and PostgreSQL's CPU;
  what it costs beyond the in-process variant, per call, is the per-request overhead
  (`bench/request_edge.py`).

PostgreSQL's CPU is read from /proc for the server processes serving this benchmark's
connections (found by their application name), so other users of the server do not count.
The benchmark's process collects garbage as a web process does (`webapp.garbage`), for every
variant alike.
Needs PostgreSQL (TIRKEU_BENCH_DATABASE, or the load test's server).
"""

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, make_url, text

from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.garbage import fewer_collections
from webapp.runtime.scripting import restricted_engine, writes_keyed_by
from webapp.runtime.serializer import StateSerializer
from webapp.runtime.versions import wire_event_subprocess_triggers
from webapp.settings import Settings
from webapp.signing import DemoSigner
from webapp.web import create_app

from .loadtest import dataset
from .loadtest.cluster import schema_url
from .loadtest.scenario import CHECK, create_users
from .report import table
from .request_edge import Statements, per_request

SERVER = os.environ.get(
    "TIRKEU_BENCH_DATABASE", "postgresql+psycopg://postgres@127.0.0.1:5432/tirkeu_load"
)
ROOT = Path(__file__).resolve().parents[1]
PROCESS_ID = "residence_registration"
RUNS = 60
# The API calls of one registration: start it, complete the check.
CALLS = 2
WARMUP = 5


class Postgres:
    """The CPU time of the server processes behind connections with one application name."""

    def __init__(self, server_url: str, name: str) -> None:
        self.name = name
        self.admin = create_engine(server_url, pool_size=1)

    def pids(self) -> list[int]:
        """Return the server processes of this benchmark's connections."""
        with self.admin.connect() as connection:
            return list(
                connection.scalars(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": self.name},
                )
            )

    def cpu_ms(self) -> float:
        """Return the CPU milliseconds the benchmark's server processes have used so far.

        Read as the scheduler counts it, in nanoseconds: /proc/PID/stat counts in 10 ms ticks,
        coarser than a backend's share of one registration. A backend is one process of one
        thread, so its thread's count is the process's.
        """
        return sum(_run_ms(pid) for pid in self.pids())


def _run_ms(pid: int) -> float:
    """Return the milliseconds a process's first thread has run (0 for one that is gone)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except OSError:
        return 0.0


def ensure_database(server_url: str) -> None:
    """Create the benchmark's database on the server if it is not there yet."""
    url = make_url(server_url)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        if not connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        ):
            connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    server.dispose()


class Bench:
    """A fresh PostgreSQL schema with the registration deployed, clerks and applications."""

    def __init__(self, server_url: str, folder: Path, count: int) -> None:
        self.server_url = server_url
        self.schema = f"bench_{uuid4().hex[:10]}"
        self.name = self.schema
        ensure_database(server_url)
        admin = create_engine(server_url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {self.schema}")
            connection.exec_driver_sql(f"CREATE SCHEMA {self.schema}_registries")
        admin.dispose()
        url = self.url(self.schema)
        self.signer = DemoSigner()
        _key, ca_path = self.signer.ca.save(folder / "pki")
        data, applications = dataset.build(count)
        self.applications = [a for a in applications if a["path"] == "counter"]
        settings = Settings.from_env(
            instance_path=folder,
            database_url=url,
            secret_key="bench",
            registry={"registry_mode": "sandbox", "registry_url": self.url(self.schema + "_r")},
            process_settings=json.loads((ROOT / "processes" / "settings.json").read_text()),
            trusted_ca_paths=(ca_path,),
        )
        from service_tasks.operators import sandbox_store

        store = sandbox_store(settings.registry)
        store.load_dataset(data)
        store.dispose()
        product = build(settings)
        initialise(product)
        [bundle] = bundles([ROOT / "processes" / PROCESS_ID])
        product.runtime.deploy(read_bundle(bundle), deployed_by="bench")
        self.tokens = create_users(url, [])
        self.runtime = product.runtime
        self.app = create_app(
            {
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "RUNTIME": product.runtime,
                "SESSION_FACTORY": product.session_factory,
                "RATELIMIT_API": "1000000 per minute",
            }
        )
        self.client = self.app.test_client()
        self.postgres = Postgres(server_url, self.name)

    def url(self, schema: str) -> str:
        """Return the URL of a schema, its connections named after this benchmark."""
        if schema.endswith("_r"):
            schema = schema[:-2] + "_registries"
        return schema_url(self.server_url, schema) + f"&application_name={self.name}"

    def drop(self) -> None:
        """Drop the schemas."""
        admin = create_engine(self.server_url)
        with admin.begin() as connection:
            for schema in (self.schema, self.schema + "_registries"):
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()

    def start_data(self, application: dict) -> dict:
        """Return an application's start data, signed where the process asks it."""
        data = application["data"]
        return self.signer.signed(data, self.runtime.start_signing(PROCESS_ID, data))

    def in_process(self, start_data: dict) -> None:
        """Register through the runtime's functions, as a web request would call them."""
        view = self.runtime.start(PROCESS_ID, start_data, actor="load-clerk-0")
        # The clerk who starts a counter application holds its check from the start.
        [task] = [t for t in view.ready_tasks if t.bpmn_id == "Task_CheckDocuments"]
        assert task.claimed_by == "load-clerk-0", task.claimed_by
        done = self.runtime.complete(task.id, CHECK, actor="load-clerk-0")
        assert done.status == "completed", done.status

    def through_api(self, start_data: dict) -> None:
        """Register through the HTTP API as the load test's clerks do."""
        headers = {"Authorization": f"Bearer {self.tokens['load-clerk-0']}"}
        body = {"process_id": PROCESS_ID, "data": start_data}
        answer = self.client.post("/api/v1/instances", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        [task] = [t for t in answer.json["ready_tasks"] if t["bpmn_id"] == "Task_CheckDocuments"]
        assert task["claimed_by"] == "load-clerk-0", task
        done = self.client.post(
            f"/api/v1/tasks/{task['id']}/complete", json={"data": CHECK}, headers=headers
        )
        assert done.status_code == 200 and done.json["status"] == "completed", done.text


class InMemory:
    """Stock SpiffWorkflow, no engine levers: same specs, instant registry answers, state saved."""

    def __init__(self, runtime, answers: dict[str, dict]) -> None:
        with runtime.transaction() as session:
            info = runtime.versions.latest(session, PROCESS_ID)
        # Stock: spec objects of its own with SpiffWorkflow's DMN engine (the runtime's carry
        # the decision lever) and the plain serializer, which restores stock workflows.
        self.serializer = StateSerializer()
        specs = self.serializer.dump_specs(info.spec, info.subprocess_specs)
        self.spec, self.subprocess_specs = self.serializer.load_specs(specs)
        wire_event_subprocess_triggers(self.spec)
        canned = {name: _canned(answer) for name, answer in answers.items()}
        self.engine = restricted_engine({"config": runtime.setting}, canned)

    def registration(self, application: dict, start_data: dict) -> None:
        """Start, save; load, complete the check, run, save."""
        with writes_keyed_by(application["number"]):
            workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine)
            for task in workflow.get_tasks(state=TaskState.READY):
                task.set_data(**start_data)
            workflow.do_engine_steps()
            state = self.serializer.dump(workflow)
            workflow = self.serializer.load(state, self.spec, self.subprocess_specs, self.engine)
            task = workflow.get_next_task(state=TaskState.READY, manual=True)
            task.set_data(**CHECK)
            task.run()
            workflow.do_engine_steps()
            assert workflow.completed
            self.serializer.dump(workflow)


def _canned(answer: dict) -> Callable[..., dict]:
    """Return an operator that answers at once with a recorded answer."""
    return lambda **_params: answer


class Clock:
    """The CPU time spent inside some methods of an object, added up in `ms`."""

    def __init__(self, owner: object, *names: str) -> None:
        self.ms = 0.0
        for name in names:
            setattr(owner, name, self.timed(getattr(owner, name)))

    def timed(self, function: Callable) -> Callable:
        """Return the function, its CPU time added to `ms`."""

        def call(*args, **kwargs):
            began = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.ms += (time.process_time() - began) * 1000

        return call


def recorded_answers(runtime, run: Callable[[], None]) -> dict[str, dict]:
    """Run once with the operators' answers recorded, by operator name."""
    answers: dict[str, dict] = {}
    real = runtime.script_engine.operators

    def recording(name: str, operator_: Callable) -> Callable:
        def call(**params):
            answers[name] = result = operator_(**params)
            return result

        return call

    runtime.script_engine.operators = {n: recording(n, op) for n, op in real.items()}
    try:
        run()
    finally:
        runtime.script_engine.operators = real
    return answers


def cpu_medians(works: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Return the median CPU milliseconds of each work; they take turns, one run per round."""
    samples: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            samples[name].append(work())
    return {name: statistics.median(values) for name, values in samples.items()}


def run(runs: int = RUNS) -> dict[str, float]:
    """Measure and print CPU per registration of each variant; return the medians."""
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(SERVER, Path(folder), 3 * (3 * runs + 3 * WARMUP + 10))
        try:
            with fewer_collections():
                return _measure(bench, runs)
        finally:
            bench.drop()


def _measure(bench: Bench, runs: int) -> dict[str, float]:
    """Run the variants in turns on one bench."""
    applications = iter(bench.applications)
    first = next(applications)
    answers = recorded_answers(bench.runtime, lambda: bench.in_process(bench.start_data(first)))
    memory = InMemory(bench.runtime, answers)

    # The edge of an API call: what the app does outside the runtime's functions (the test
    # client's own work is left out).
    inside = Clock(bench.runtime, "start", "complete")
    app = Clock(bench.app, "wsgi_app")
    database = Statements(bench.runtime.session_factory.kw["bind"])

    def ours(
        work: Callable[[dict], None], apps: list[tuple[float, float]] | None = None
    ) -> Callable[[], tuple[float, float]]:
        name = "process" if apps is None else "api"

        def measured() -> tuple[float, float]:
            # The start data is signed by the client before the call, outside the measure.
            start_data = bench.start_data(next(applications))
            server = bench.postgres.cpu_ms()
            inside.ms = app.ms = 0.0
            began = time.process_time()
            with database.counting(name):
                work(start_data)
            mine = (time.process_time() - began) * 1000
            if apps is not None:
                apps.append((app.ms, inside.ms))
            return mine, bench.postgres.cpu_ms() - server

        return measured

    def in_memory() -> float:
        application = next(applications)
        start_data = bench.start_data(application)
        began = time.process_time()
        memory.registration(application, start_data)
        return (time.process_time() - began) * 1000

    split: dict[str, list[tuple[float, float]]] = {"process": [], "api": []}
    # Of each API run: the app's CPU (the server's share, without the test client's) and, of
    # it, the runtime's functions.
    api_apps: list[tuple[float, float]] = []

    def keep(name: str, work: Callable[[], tuple[float, float]]) -> Callable[[], float]:
        def kept() -> float:
            mine, server = work()
            split[name].append((mine, server))
            return mine + server

        return kept

    works = {
        "memory": in_memory,
        "process": keep("process", ours(bench.in_process)),
        "api": keep("api", ours(bench.through_api, api_apps)),
    }
    cpu_medians(works, WARMUP)
    for values in split.values():
        values.clear()
    api_apps.clear()
    database.clear()
    medians = cpu_medians(works, runs)
    # PostgreSQL's CPU is counted in clock ticks (10 ms): its mean over the runs is the figure.
    ours_ms = {name: statistics.median(m for m, _ in runs_) for name, runs_ in split.items()}
    server_ms = {name: statistics.fmean(s for _, s in runs_) for name, runs_ in split.items()}
    base = medians["memory"]
    rows = [("stock SpiffWorkflow in memory, state saved and loaded", base, "", 1.0)]
    for name, label in (("process", "our runtime in process"), ("api", "through the API")):
        total = ours_ms[name] + server_ms[name]
        medians[name] = total
        parts = f"{ours_ms[name]:.1f} + {server_ms[name]:.1f}"
        rows.append((f"{label}, PostgreSQL", total, parts, total / base))
    table(
        f"One counter registration, CPU ms, {runs} interleaved runs: our median + PostgreSQL's "
        "mean (target: through the API <= 2x in memory)",
        ("variant", "CPU ms", "ours + PostgreSQL", "ratio"),
        [(name, f"{ms:.2f}", split_text, f"{ratio:.2f}") for name, ms, split_text, ratio in rows],
    )
    medians.update(per_request(medians, api_apps, database.per_call(CALLS), CALLS))
    return medians


if __name__ == "__main__":
    run()
