"""The cluster under test: a PostgreSQL schema, gunicorn web processes and `tirkeu worker`s."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import httpx
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[2]
TIRKEU = [sys.executable, "-c", "from webapp.cli import main; main()"]
# Per web process. On 2 cores, 4 processes of 2 threads drove 31-36 registrations/s where 8
# threads drove 26 and 1 thread 29: more threads only wait on the interpreter lock.
THREADS = 2


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """Return the CPU milliseconds a process has used so far (0 for one that is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def children(pid: int) -> list[int]:
    """Return the pids of a process's children."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in found.stdout.split()]


def cmdline(pid: int) -> bytes:
    """Return a process's command line (empty for one that is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def schema_url(server_url: str, schema: str) -> str:
    """Return the URL that puts every connection in one schema."""
    separator = "&" if "?" in server_url else "?"
    return f"{server_url}{separator}options=-csearch_path%3D{schema}"


class Cluster:
    """Processes on 127.0.0.1 over one fresh PostgreSQL schema, started and killed at will."""

    def __init__(
        self,
        server_url: str,
        folder: Path,
        web: int,
        workers: int,
        settings: dict,
        threads: int = THREADS,
    ):
        self.server_url = server_url
        self.schema = f"load_{uuid4().hex[:10]}"
        self.database_url = schema_url(server_url, self.schema)
        self.folder = folder
        self.web_count = web
        self.threads = threads
        self.worker_count = workers
        self.port = free_port()
        # Jobs a killed worker had taken wait this long for another worker.
        self.lease = 15
        self.url = f"http://127.0.0.1:{self.port}"
        settings_file = folder / "settings.json"
        settings_file.write_text(json.dumps(settings))
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            TIRKEU_INSTANCE_PATH=str(folder / "instance"),
            TIRKEU_DATABASE_URL=self.database_url,
            TIRKEU_REGISTRY_URL=schema_url(server_url, self.schema + "_registries"),
            TIRKEU_SETTINGS=str(settings_file),
            TIRKEU_SECRET_KEY="load test",
            TIRKEU_RATELIMIT_API="1000000 per minute",
            TIRKEU_DB_POOL_SIZE="4",
            TIRKEU_DB_MAX_OVERFLOW="4",
        )
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        # The chaos thread and the registries' kills at writes replace workers at once.
        self.replacing = threading.Lock()
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def create(self) -> None:
        """Create the database if need be and the schemas; `tirkeu init` migrates and deploys."""
        url = make_url(self.server_url)
        server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            if not connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ):
                connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        server.dispose()
        admin = create_engine(self.server_url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {self.schema}")
            connection.exec_driver_sql(f"CREATE SCHEMA {self.schema}_registries")
        admin.dispose()
        self.run("init")

    def drop(self) -> None:
        """Drop the schemas."""
        admin = create_engine(self.server_url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {self.schema}_registries CASCADE")
        admin.dispose()

    def run(self, *args: str) -> str:
        """Run one `tirkeu` command to its end and return its output."""
        done = subprocess.run(
            [*TIRKEU, *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"tirkeu {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def log(self, name: str):
        """Open a log file of one process."""
        return (self.logs / name).open("ab")

    def start_web(self) -> None:
        """Start gunicorn with the web processes and wait until it answers."""
        self.web = subprocess.Popen(
            [*TIRKEU, "serve", "--port", str(self.port), "--workers", str(self.web_count),
             "--threads", str(self.threads)],
            env=self.env, stdout=self.log("web.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("the web processes did not answer within a minute")

    def start_worker(self) -> subprocess.Popen:
        """Start one `tirkeu worker` loop."""
        worker = subprocess.Popen(
            [*TIRKEU, "worker", "--interval", "0.5", "--batch", "10", "--lease", str(self.lease)],
            env=self.env, stdout=self.log("worker.log"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def start(self) -> None:
        """Start the web processes and the workers, and wait until they have settled."""
        self.start_web()
        for _ in range(self.worker_count):
            self.start_worker()
        self.settle()

    def settle(self, quiet_ms: float = 50, limit: float = 120) -> None:
        """Wait until every web process is up and no process uses more than `quiet_ms` of CPU
        in half a second: imports and app building are over, and the clock measures serving.
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            pids = [*self.web_children(), *(worker.pid for worker in self.workers)]
            before = {pid: cpu_ms(pid) for pid in pids}
            time.sleep(0.5)
            busy = [pid for pid in pids if cpu_ms(pid) - before[pid] > quiet_ms]
            if len(pids) == self.web_count + self.worker_count and not busy:
                return
        raise RuntimeError(f"the processes did not settle within {limit} s")

    def web_children(self) -> list[int]:
        """Return the pids of the web processes: gunicorn's, or granian's one (beside which
        multiprocessing keeps a resource tracker)."""
        return [pid for pid in children(self.web.pid) if b"resource_tracker" not in cmdline(pid)]

    def kill_web_process(self) -> int | None:
        """SIGKILL one web process; gunicorn's arbiter (or granian) starts a new one."""
        web = self.web_children()
        if not web:
            return None
        victim = random.choice(web)
        os.kill(victim, signal.SIGKILL)
        return victim

    def caller(self, port: int) -> int | None:
        """Return the web process or worker whose connection comes from a local port."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
        for pid in [*self.web_children(), *(worker.pid for worker in self.workers)]:
            try:
                links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
            except OSError:
                continue  # it has just died
            if links & inodes:
                return pid
        return None

    def kill_caller(self, port: int) -> str | None:
        """SIGKILL the process that called from a local port, in the middle of its step."""
        pid = self.caller(port)
        if pid is None:
            return None
        with self.replacing:
            for index, worker in enumerate(self.workers):
                if worker.pid == pid:
                    self.workers.pop(index)
                    self._replace(worker)
                    return f"worker {pid} at a registry write"
        os.kill(pid, signal.SIGKILL)
        return f"web {pid} at a registry write"

    def kill_worker(self) -> int:
        """SIGKILL one worker and start another in its place."""
        with self.replacing:
            victim = self.workers.pop(0)
            self._replace(victim)
        return victim.pid

    def _replace(self, victim: subprocess.Popen) -> None:
        """SIGKILL a worker taken off the list and start another in its place."""
        victim.kill()
        victim.wait()
        self.start_worker()

    def stop(self) -> None:
        """Stop every process with SIGTERM, as an operator would."""
        for process in [*self.workers, self.web]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.web]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
