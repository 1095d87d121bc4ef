"""The analysts' queries over a large synthetic history on SQLite.

About 100,000 instances and 2,000,000 audit events are written with bulk INSERTs straight into
the tables (the runtime would take hours to make them), on a path shaped like the registration
process: automatic checks, a clerk's document check, a supervisor's approval or a refusal.
Then the analyst's pages are timed through the Flask test client: the instance list (first
and deep page, a filter, and an IIN search, as a supervisor: analysts see no IINs), one
instance's page, the dashboard (a day, a week and every instance, with its completed days kept
from an earlier read and with nothing kept); and the export of every instance.
"""

import os
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, func, insert, select

from webapp.accounts import create_user, find_user
from webapp.analytics.export import export_csv, export_xes
from webapp.analytics.instances import InstanceFilter, list_instances
from webapp.db.analytics import DashboardDay
from webapp.db.base import Base
from webapp.db.models import Deployment, HumanTask, Instance, InstanceEvent, ProcessVersion
from webapp.db.session import make_engine, make_session_factory
from webapp.runtime.engine import Runtime
from webapp.web import create_app

from .report import percentile, table
from .tasklist import PASSWORD, signed_in

INSTANCES = 100_000
RUNS = 50
PROCESS = "registration"
ORIGIN = datetime(2026, 10, 1, tzinfo=UTC)
AUTOMATIC = (
    ("Event_Start", "StartEvent"),
    ("Task_Prepare", "ScriptTask"),
    ("Task_LookUpPerson", "ServiceTask"),
    ("Task_CheckEligibility", "BusinessRuleTask"),
    ("Gateway_Eligible", "ExclusiveGateway"),
    ("Task_LookUpPremises", "ServiceTask"),
    ("Gateway_PremisesAllowed", "ExclusiveGateway"),
    ("Task_CheckConsularRegister", "ServiceTask"),
    ("Task_CheckTitle", "ServiceTask"),
)
APPROVED_TAIL = (
    ("Task_Register", "ServiceTask"),
    ("Task_NotifyApplicant", "ServiceTask"),
    ("Event_Registered", "EndEvent"),
)
REFUSED_TAIL = (
    ("Task_RecordRefusal", "BusinessRuleTask"),
    ("Task_NotifyRefusal", "ServiceTask"),
    ("Event_Refused", "EndEvent"),
)
IIN = "850314304175"
REASONS = ("documents_missing", "no_authority", "premises_restricted", "person_not_found")


def generate(engine: Engine, instances: int, seed: int = 1, batch: int = 2000) -> int:
    """Write `instances` synthetic instances with their events and tasks; return event count."""
    rng = random.Random(seed)
    with engine.begin() as connection:
        deployment_id = connection.execute(
            insert(Deployment).values(content_hash=f"bench-{seed}", created_at=ORIGIN)
        ).inserted_primary_key[0]
        version_id = connection.execute(
            insert(ProcessVersion).values(
                process_id=PROCESS,
                version=1,
                name="Registration",
                deployment_id=deployment_id,
                bpmn_file="registration.bpmn",
                spec="{}",
                message_starts=[],
                created_at=ORIGIN,
            )
        ).inserted_primary_key[0]
    # One instance every 26 s or so: 100,000 instances over a month.
    spacing = timedelta(days=30) / max(instances, 1)
    events_written = 0
    for first in range(1, instances + 1, batch):
        rows, events, tasks = [], [], []
        for number in range(first, min(first + batch, instances + 1)):
            created = ORIGIN + spacing * number
            events_written += synthetic_instance(
                rng, number, version_id, created, rows, events, tasks
            )
        with engine.begin() as connection:
            connection.execute(insert(Instance), rows)
            connection.execute(insert(HumanTask), tasks)
            connection.execute(insert(InstanceEvent), events)
    return events_written


def synthetic_instance(rng, number, version_id, created, rows, events, tasks) -> int:
    """Append one instance's row, events and tasks; return how many events it has."""
    channel = "online" if rng.random() < 0.6 else "service_centre"
    kind = "permanent" if rng.random() < 0.8 else "temporary"
    iin = f"{rng.randrange(10**11, 10**12):012d}"
    key = f"A-{number:07d}"
    fate = rng.random()
    running, refused = fate < 0.02, 0.02 <= fate < 0.3
    summary = {
        "application_number": key,
        "channel": channel,
        "registration_type": kind,
        "applicant_iin": iin,
        "person_iin": iin,
    }
    clock = created
    first_event = len(events)

    def event(kind_, bpmn_id=None, task_type=None, task_id=None, actor=None, data=None):
        """Append an audit event at the instance's clock."""
        events.append(
            {
                "instance_id": number,
                "process_id": PROCESS,
                "version": 1,
                "at": clock,
                "kind": kind_,
                "task_id": task_id,
                "bpmn_id": bpmn_id,
                "name": bpmn_id,
                "task_type": task_type,
                "actor": actor,
                "data": data,
            }
        )

    def user_task(bpmn_id, role, actor, data):
        """Open a user task; with data, claim and complete it after random delays."""
        nonlocal clock
        task_id = f"{number:08d}-{bpmn_id}"
        ready = clock
        event("task_ready", bpmn_id, "UserTask", task_id)
        row = {
            "id": task_id,
            "instance_id": number,
            "process_id": PROCESS,
            "business_key": key,
            "bpmn_id": bpmn_id,
            "name": bpmn_id,
            "lane": role.title(),
            "role": role,
            "state": "ready",
            "due_at": ready + timedelta(minutes=15),
            "created_at": ready,
            "claimed_by": None,
            "claimed_at": None,
            "completed_at": None,
            "completed_by": None,
        }
        tasks.append(row)
        if data is None:
            return False
        clock += timedelta(seconds=rng.expovariate(1 / 120))
        event("claimed", bpmn_id, "UserTask", task_id, actor)
        claimed = clock
        clock += timedelta(seconds=rng.expovariate(1 / 360))
        event("task_completed", bpmn_id, "UserTask", task_id, actor, data)
        row.update(
            state="completed",
            claimed_by=actor,
            claimed_at=claimed,
            completed_at=clock,
            completed_by=actor,
        )
        return True

    event("instance_started", data=summary)
    for bpmn_id, task_type in AUTOMATIC:
        event("task_completed", bpmn_id, task_type, f"{number:08d}-{bpmn_id}")
    clerk = f"clerk{rng.randrange(20)}"
    reason = rng.choice(REASONS) if refused else None
    outcome = None
    if user_task("Task_CheckDocuments", "clerk", clerk, None if running else {"ok": not refused}):
        event("task_completed", "Gateway_DocumentsOk", "ExclusiveGateway")
        tail = REFUSED_TAIL
        outcome = "refused"
        if not refused:
            supervisor = f"supervisor{rng.randrange(5)}"
            user_task("Task_Approve", "supervisor", supervisor, {"approved": True})
            tail, outcome = APPROVED_TAIL, "registered"
        for bpmn_id, task_type in tail:
            event("task_completed", bpmn_id, task_type, f"{number:08d}-{bpmn_id}")
        event("instance_completed")
        summary = {**summary, "outcome": outcome, "refusal_reason": reason}
    rows.append(
        {
            "id": number,
            "process_version_id": version_id,
            "process_id": PROCESS,
            "business_key": key,
            "status": "waiting" if running else "completed",
            "state": b"",
            "serializer_version": "bench",
            "lock_version": 1,
            "summary": summary,
            "created_at": created,
            "updated_at": clock,
            "completed_at": None if running else clock,
        }
    )
    return len(events) - first_event


def timings_ms(work, runs: int = RUNS) -> tuple[float, float]:
    """Return the p50 and p95 wall time of `work` in milliseconds."""
    work()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return percentile(samples, 0.5), percentile(samples, 0.95)


def export_rate(session_factory, exporter) -> tuple[int, float, int]:
    """Export every instance; return the events exported, the seconds taken and the bytes."""
    exported = {"events": 0}

    def progress(_cases: int, events: int) -> None:
        exported["events"] = events

    start = time.perf_counter()
    size = sum(len(chunk) for chunk in exporter(session_factory, progress=progress))
    return exported["events"], time.perf_counter() - start, size


def export_peak(session_factory, filters: InstanceFilter) -> int:
    """Return the traced peak memory of an XES export of the filtered instances."""
    tracemalloc.start()
    for _chunk in export_xes(session_factory, filters):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def viewers(engine: Engine, session_factory) -> tuple[FlaskClient, FlaskClient]:
    """Return test clients of the web application on the history, signed in as an analyst and
    as a supervisor."""
    Base.metadata.create_all(engine)
    with session_factory.begin() as session:
        for role in ("analyst", "supervisor"):
            if find_user(session, role) is None:
                create_user(session, role, PASSWORD, [role], None, role.title())
    runtime = Runtime(session_factory, {}, {"service_term": "PT15M"})
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "DATABASE_URL": str(engine.url),
            "RUNTIME": runtime,
            "SESSION_FACTORY": session_factory,
        }
    )
    return signed_in(app, "analyst"), signed_in(app, "supervisor")


def run() -> None:
    """Generate the history, then print the page timings and the export rate and memory.

    With TIRKEU_BENCH_ANALYTICS_DB set to a file, the history is generated into it once and
    reused by later runs, which saves minutes while iterating on a query.
    """
    kept = os.environ.get("TIRKEU_BENCH_ANALYTICS_DB")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(kept) if kept else Path(folder) / "analytics.db"
        engine = make_engine(f"sqlite:///{path}")
        start = time.perf_counter()
        if path.exists() and path.stat().st_size:
            with engine.connect() as connection:
                events = connection.scalar(select(func.count()).select_from(InstanceEvent))
        else:
            Base.metadata.create_all(engine)
            events = generate(engine, INSTANCES)
        generation = time.perf_counter() - start
        session_factory = make_session_factory(engine)
        with session_factory() as session:
            deep = list_instances(session, after=INSTANCES // 2 + 1, limit=50).rows[0].id
        week_since = ORIGIN + timedelta(days=20)
        analyst, supervisor = viewers(engine, session_factory)

        def page(path: str, client: FlaskClient = analyst, **args):
            def get() -> None:
                response = client.get(path, query_string=args)
                assert response.status_code == 200, response.status
                response.get_data()

            return get

        def dashboard(days: int, since=week_since, kept: bool = True):
            last = since + timedelta(days=days - 1)
            get = page(
                "/analytics/dashboard",
                process=PROCESS,
                version=1,
                since=since.date().isoformat(),
                until=last.date().isoformat(),
            )
            if kept:
                return get

            def first_read() -> None:
                # What the first read of the range costs, before its days are kept.
                with session_factory.begin() as session:
                    session.execute(delete(DashboardDay))
                get()

            return first_read

        rows = [
            ("instance list, first page", *timings_ms(page("/analytics/"))),
            ("instance list, page at the middle", *timings_ms(page("/analytics/", after=deep))),
            (
                "instance list, refused online",
                *timings_ms(page("/analytics/", outcome="refused", channel="online")),
            ),
            (
                "instance list, search by IIN (a supervisor)",
                *timings_ms(page("/analytics/", supervisor, q=IIN), 10),
            ),
            ("instance page", *timings_ms(page(f"/analytics/instances/{deep}"))),
            ("dashboard, one day", *timings_ms(dashboard(1), 10)),
            ("dashboard, one week", *timings_ms(dashboard(7), 10)),
            ("dashboard, every instance (31 days)", *timings_ms(dashboard(31, ORIGIN), 10)),
            ("dashboard, one week, nothing kept", *timings_ms(dashboard(7, kept=False), 5)),
            (
                "dashboard, every instance, nothing kept",
                *timings_ms(dashboard(31, ORIGIN, kept=False), 3),
            ),
        ]
        table(
            f"Analyst's pages over {INSTANCES:,} instances and {events:,} events, SQLite, "
            f"through the Flask test client (generated in {generation:.0f} s; "
            "target: each page under 300 ms p95)",
            ("page", "p50 ms", "p95 ms"),
            [(name, f"{p50:.1f}", f"{p95:.1f}") for name, p50, p95 in rows],
        )
        export_rows = []
        for name, exporter in (("XES", export_xes), ("CSV", export_csv)):
            exported, seconds, size = export_rate(session_factory, exporter)
            export_rows.append(
                (name, f"{exported:,}", f"{exported / seconds:,.0f}", f"{size / 2**20:,.0f}")
            )
        table(
            "Event-log export of every instance",
            ("format", "events exported", "events/s", "MB written"),
            export_rows,
        )
        tenth = InstanceFilter(created_until=ORIGIN + timedelta(days=3))
        peaks = [
            ("10,000 instances", export_peak(session_factory, tenth)),
            (f"{INSTANCES:,} instances", export_peak(session_factory, InstanceFilter())),
        ]
        table(
            "Peak memory of an XES export, traced (target: flat in the number of instances)",
            ("exported", "peak MB"),
            [(name, f"{peak / 2**20:.1f}") for name, peak in peaks],
        )
