"""A whole small instance over HTTP: one web process, SQLite, a sequential keep-alive client.

The diagram (bench/small) is the one SpiffArena's latency was published on: a parallel split
into two user tasks. One instance is three calls: create and run it, then complete each task.
SpiffArena took 170 ms per instance on it; the target here is 7 ms at the median.

Beside it, in the same run, stock SpiffWorkflow does the same work in this process: the
instance created and run, then each task completed, its state saved and loaded between the
calls as the server's is. Its CPU is the floor the server's is compared with.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import urllib3
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from webapp.bootstrap import build, initialise
from webapp.runtime.forms import FORMATS
from webapp.runtime.scripting import restricted_engine
from webapp.runtime.serializer import StateSerializer
from webapp.runtime.specs import parse_bundle
from webapp.settings import Settings

from .loadtest.cluster import children, cpu_ms, free_port
from .loadtest.scenario import create_users
from .report import percentile, table

SMALL = Path(__file__).with_name("small")
RUNS = 300
WARMUP = 20
SPIFFARENA_MS = 170


def prepared(folder: Path) -> tuple[dict[str, str], str]:
    """Migrate a SQLite database, deploy the small diagram; return the environment and a token."""
    url = f"sqlite:///{folder / 'tirkeu.db'}"
    env = dict(
        os.environ,
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
        TIRKEU_INSTANCE_PATH=str(folder),
        TIRKEU_DATABASE_URL=url,
        TIRKEU_REGISTRY_URL=f"sqlite:///{folder / 'registries.db'}",
        TIRKEU_SECRET_KEY="bench",
        TIRKEU_RATELIMIT_API="1000000 per minute",
    )
    settings = Settings.from_env(
        instance_path=folder,
        database_url=url,
        secret_key="bench",
        registry={"registry_mode": "sandbox", "registry_url": env["TIRKEU_REGISTRY_URL"]},
    )
    product = build(settings)
    initialise(product)
    product.runtime.deploy({p.name: p.read_bytes() for p in SMALL.iterdir()}, "bench")
    product.engine.dispose()
    token = create_users(url, [])["load-clerk-0"]
    return env, token


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    """Start `tirkeu serve` (one web process) and wait until it answers."""
    server = subprocess.Popen(
        [sys.executable, "-c", "from webapp.cli import main; main()", "serve",
         "--port", str(port), "--threads", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = urllib3.PoolManager(retries=False, timeout=2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.request("GET", f"http://127.0.0.1:{port}/login").status == 200:
                return server
        except urllib3.exceptions.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the server did not answer within a minute")


def instance(client: urllib3.HTTPConnectionPool, headers: dict[str, str]) -> None:
    """Create and run an instance, then complete its two tasks."""
    body = json.dumps({"process_id": "bench_small", "data": {}})
    answer = client.request("POST", "/api/v1/instances", body=body, headers=headers)
    assert answer.status == 201, answer.data[:300]
    tasks = answer.json()["ready_tasks"]
    assert len(tasks) == 2, tasks
    for task in tasks:
        done = client.request(
            "POST", f"/api/v1/tasks/{task['id']}/complete", body='{"data": {}}', headers=headers
        )
        assert done.status == 200, done.data[:300]
    assert done.json()["status"] == "completed"


class InMemory:
    """Stock SpiffWorkflow on the small diagram, state saved and loaded between the calls."""

    def __init__(self) -> None:
        files = {p.name: p.read_bytes() for p in SMALL.iterdir()}
        process = parse_bundle(files, {}, FORMATS).processes["bench_small"]
        self.spec, self.subprocess_specs = process.spec, process.subprocess_specs
        self.engine = restricted_engine()
        self.serializer = StateSerializer()

    def _saved_and_loaded(self, workflow: BpmnWorkflow) -> BpmnWorkflow:
        state = self.serializer.dump(workflow)
        return self.serializer.load(state, self.spec, self.subprocess_specs, self.engine)

    def instance(self) -> float:
        """Create and run an instance, then complete its two tasks; return the CPU ms."""
        began = time.process_time()
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.engine)
        workflow.do_engine_steps()
        workflow = self._saved_and_loaded(workflow)
        for _ in range(2):
            [task, *_others] = workflow.get_tasks(state=TaskState.READY, manual=True)
            task.run()
            workflow.do_engine_steps()
            workflow = self._saved_and_loaded(workflow)
        assert workflow.completed
        return (time.process_time() - began) * 1000


def run(runs: int = RUNS) -> dict[str, float]:
    """Measure and print the instance latency and the server's CPU per instance, beside stock
    SpiffWorkflow's CPU for the same instance in memory, taking turns with it."""
    stock = InMemory()
    with tempfile.TemporaryDirectory() as folder:
        env, token = prepared(Path(folder))
        port = free_port()
        server = serve(env, port)
        try:
            client = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for _ in range(WARMUP):
                instance(client, headers)
                stock.instance()
            samples, server_cpu, stock_cpu = [], [], []
            # The server's CPU is its own and its web process's (granian serves from a child).
            pids = [server.pid, *children(server.pid)]
            for _ in range(runs):
                server_before = sum(map(cpu_ms, pids))
                began = time.perf_counter()
                instance(client, headers)
                samples.append((time.perf_counter() - began) * 1000)
                server_cpu.append(sum(map(cpu_ms, pids)) - server_before)
                stock_cpu.append(stock.instance())
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    p50 = percentile(samples, 0.5)
    # The kernel counts a process's CPU in ticks: the server's is a mean over the runs.
    server_ms, stock_ms = statistics.fmean(server_cpu), statistics.median(stock_cpu)
    table(
        f"Small diagram over HTTP, {runs} instances, one web process, SQLite, keep-alive "
        "(target: p50 <= 7 ms; SpiffArena 170 ms)",
        ("measure", "ms"),
        [
            ("whole instance (create+run, two completions), p50", f"{p50:.2f}"),
            ("whole instance, p95", f"{percentile(samples, 0.95):.2f}"),
            ("server CPU per instance, mean", f"{server_ms:.2f}"),
            ("stock SpiffWorkflow in memory, state saved and loaded, CPU", f"{stock_ms:.2f}"),
            ("server CPU / stock in memory", f"{server_ms / stock_ms:.1f}x"),
            ("p50 / stock in memory", f"{p50 / stock_ms:.1f}x"),
            ("SpiffArena / ours at p50", f"{SPIFFARENA_MS / p50:.1f}x"),
        ],
    )
    return {"p50": p50, "server_cpu": server_ms, "stock": stock_ms}


if __name__ == "__main__":
    run()
