"""`python -m bench.loadtest [--count N] [--faults]`: the load (and fault) test; `make loadtest`."""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from service_tasks.sandbox import SandboxStore
from webapp.signing import DemoSigner

from ..report import percentile
from . import dataset
from .checks import check, ended_count
from .cluster import THREADS, Cluster, schema_url
from .scenario import Driver, Timings, create_users, local_registries
from .stub import FaultyRegistries

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/tirkeu_load"
SETTINGS = Path(__file__).resolve().parents[2] / "processes" / "settings.json"


def arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="registrations (2000)")
    # 8 clients keep both cores busy: 16 drove no more registrations a second (54.6 and 55.9
    # against 59.0 and 55.9), and their requests only waited longer in the web processes'
    # queues (p95 380-400 ms against 115-153 ms).
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once (8)")
    # 2 web processes of 2 threads used about a tenth less web CPU per registration than 4 of 2
    # (4.95-5.23 against 5.49-5.83 times the generator's fixed work, four runs against six) and
    # drove about 6% more a second for the machine's speed: fewer threads wait on interpreter
    # locks, and a step more often finds its workflow warm in the process that serves it.
    parser.add_argument("--web", type=int, default=2, help="gunicorn web processes (2)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"per web process ({THREADS})")
    parser.add_argument("--workers", type=int, default=2, help="tirkeu workers (2)")
    parser.add_argument("--database", default=DEFAULT_SERVER, help="a PostgreSQL database URL")
    parser.add_argument("--faults", action="store_true", help="kill processes, failing registry")
    parser.add_argument(
        "--kill-at-writes",
        type=float,
        default=0.2,
        help="with --faults, the share of registry writes whose caller is killed (0.2)",
    )
    parser.add_argument(
        "--consent-window", type=int, help="seconds (30; 150 with --faults, past the retries)"
    )
    parser.add_argument("--time-limit", type=int, default=900, help="seconds in all (900)")
    parser.add_argument("--keep", action="store_true", help="keep the schemas afterwards")
    return parser.parse_args()


def chaos(cluster: Cluster, stop: threading.Event, killed: list[str]) -> None:
    """SIGKILL a web process or a worker at random moments until stopped."""
    while not stop.wait(random.uniform(3, 8)):
        if random.random() < 0.5:
            pid = cluster.kill_web_process()
            killed.append(f"web {pid}")
        else:
            killed.append(f"worker {cluster.kill_worker()}")


def cpu_seconds() -> float:
    """Return the CPU time this process (the load generator, not its children) has used."""
    times = os.times()
    return times.user + times.system


def main() -> int:
    """Run the test, check every application and print the report; exit 1 on any problem."""
    args = arguments()
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="tirkeu-load-"))
    settings = json.loads(SETTINGS.read_text())
    # Under faults a consent request may wait for two retries (10 + 20 s) and a killed worker's
    # lease: the window must outlast them, or an owner's consent comes too late.
    window = args.consent_window or (150 if args.faults else 30)
    settings["consent_window"] = f"PT{window}S"
    data, applications = dataset.build(args.count)
    cluster = Cluster(args.database, folder, args.web, args.workers, settings, args.threads)
    stub = None
    if args.faults:
        registry_url = schema_url(args.database, cluster.schema + "_registries")
    mode = "on" if args.faults else "off"
    print(
        f"load test: {args.count} registrations, {args.web} web processes, "
        f"{args.workers} workers, faults {mode}",
        file=sys.stderr,
    )
    cluster.create()
    (folder / "dataset.json").write_text(json.dumps(data))
    cluster.run("registries", "load", str(folder / "dataset.json"))
    if args.faults:
        stub = FaultyRegistries(
            SandboxStore(registry_url),
            0.05,
            0.03,
            delay=1.5,
            kill_caller=cluster.kill_caller,
            kill_rate=args.kill_at_writes,
        )
        stub.start()
        # Set up in sandbox mode; the running processes reach the registries over HTTP.
        cluster.env.update(
            TIRKEU_REGISTRY_MODE="http",
            TIRKEU_REGISTRY_BASE_URL=stub.url,
            TIRKEU_REGISTRY_TIMEOUT="1",
        )
    tokens = create_users(cluster.database_url, sorted({a["owner"] for a in applications}))
    signer = DemoSigner()
    _key, ca_path = signer.ca.save(folder / "pki")
    cluster.env["TIRKEU_TRUSTED_CAS"] = str(ca_path)
    timings = Timings()
    registries = local_registries(folder / "dataset.json", folder / "documents-registries.db")
    driver = Driver(
        cluster.url, tokens, cluster.database_url, timings, signer, registries, applications
    )
    stop, killed, failures = threading.Event(), [], []
    try:
        cluster.start()
        chaos_thread = threading.Thread(target=chaos, args=(cluster, stop, killed), daemon=True)
        if args.faults:
            chaos_thread.start()
        started, cpu_started = time.monotonic(), cpu_seconds()
        with ThreadPoolExecutor(args.concurrency) as pool:
            futures = {pool.submit(driver.run, i, a): a for i, a in enumerate(applications)}
            for done, future in enumerate(as_completed(futures), 1):
                try:
                    future.result()
                except Exception as error:  # noqa: BLE001  (every failure is reported)
                    failures.append(f"{futures[future]['number']}: {error}")
                if done % 200 == 0:
                    print(f"  driven {done}/{args.count}", file=sys.stderr)
        driven, cpu_driving = time.monotonic() - started, cpu_seconds() - cpu_started
        deadline = began + args.time_limit
        # Processes keep dying while timers and retries finish the applications.
        while ended_count(cluster.database_url) < args.count and time.monotonic() < deadline:
            time.sleep(2)
        stop.set()
        findings = check(cluster.database_url, cluster.env["TIRKEU_REGISTRY_URL"], applications)
    finally:
        stop.set()
        cluster.stop()
        if stub is not None:
            stub.stop()
        if not args.keep:
            cluster.drop()
    requests = [s for values in timings.seconds.values() for s in values]
    report = {
        "registrations": args.count,
        "outcomes": dict(findings.outcomes),
        "problems": len(findings.problems) + len(failures),
        "open_incidents": findings.open_incidents,
        "driving_seconds": round(driven, 1),
        # Started and carried through their people's steps per second, consent window aside.
        "driven_per_second": round(args.count / driven, 1) if driven else 0,
        "first_start_to_last_end_seconds": round(findings.seconds, 1),
        "completed_per_second": round(args.count / findings.seconds, 1) if findings.seconds else 0,
        "requests": len(requests),
        "p95_ms": round(percentile(requests, 0.95) * 1000, 1),
        "p95_ms_by_kind": {
            kind: round(percentile(values, 0.95) * 1000, 1)
            for kind, values in sorted(timings.seconds.items())
        },
        "median_ms": round(statistics.median(requests) * 1000, 1) if requests else 0,
        "failed_requests": dict(timings.failures),
        "ambiguous_starts": driver.ambiguous_starts,
        # What the load generator took from the cores it shares with the product under test.
        "generator_cpu_seconds_driving": round(cpu_driving, 1),
        "generator_cpu_seconds": round(cpu_seconds(), 1),
        "killed": killed + (stub.killed if stub else []),
        "registry_faults": stub.counts if stub else None,
    }
    print(json.dumps(report, indent=2))
    for problem in (failures + findings.problems)[:30]:
        print("PROBLEM", problem, file=sys.stderr)
    return 1 if report["problems"] or findings.open_incidents else 0


if __name__ == "__main__":
    sys.exit(main())
