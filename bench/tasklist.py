"""The desk's task lists with many open tasks, and a counter application through HTTP.

Open tasks (and their instances) are written straight into the read model with Core INSERTs,
1,000 and then 100,000 of them; the figures are server time, the Flask test client calling the
application in-process: the clerk's queue and the supervisor's list of everything (pages and
API), filtered by channel and searched by IIN. Every query a list request makes is checked with
EXPLAIN QUERY PLAN: none may read human_task without an index or sort it in a temporary tree.
Last, the whole counter application (start, claim, complete) through HTTP beside the same path
in-process through the runtime.
"""

import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, insert, select

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from webapp.accounts import create_user, issue_token
from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, HumanTaskKey, Instance, ProcessVersion
from webapp.settings import Settings
from webapp.web import create_app

from .report import medians_ms, percentile, table

SIZES = (1_000, 100_000)
SAMPLES = 200
WHOLE_RUNS = 20
BATCH = 5_000
PASSWORD = "bench password"
SEARCHED_IIN = "850314304175"
# An attorney registers the adult at his own flat: the centre serves attorneys, and the
# identity and authority checks apply.
COUNTER_FORM = {
    "applicant_iin": "621102401239",
    "person_iin": SEARCHED_IIN,
    "applicant_type": "attorney",
    "arc": "0201300012740054",
    "registration_type": "permanent",
}
CHECKED = {"identity_document_checked": True, "authority_checked": True, "check_result": "accepted"}
# (label, user, path); the API calls carry the user's bearer token.
REQUESTS = (
    ("page: clerk's queue", "clerk", "/tasks/?tab=queue"),
    ("page: all, supervisor", "supervisor", "/tasks/?tab=all"),
    ("page: all, online channel", "supervisor", "/tasks/?tab=all&channel=online"),
    ("page: all, search by IIN", "supervisor", f"/tasks/?tab=all&q={SEARCHED_IIN}"),
    ("API: clerk's queue", "clerk", "/api/v1/tasks?tab=queue"),
    ("API: all, supervisor", "supervisor", "/api/v1/tasks?tab=all"),
)
# Lanes of the open tasks, most of them the clerks'.
ROLES = ("clerk",) * 6 + ("supervisor", "owner", "applicant", "applicant")


def run() -> None:
    """Measure the task lists at each size, then the counter application."""
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        engine = app.extensions["tirkeu_sessions"].kw["bind"]
        clients = {user: signed_in(app, user) for user in ("clerk", "supervisor")}
        tokens = api_tokens(app)
        rows, plans, present = [], {}, 0
        for size in SIZES:
            add_open_tasks(app, size - present)
            present = size
            for label, user, path in REQUESTS:
                call = request_of(clients[user], tokens[user], path)
                plans[label] = query_plans(engine, call)
                wall, cpu = timings(call)
                rows.append((label, f"{size:,}", *(
                    f"{percentile(samples, share):.2f}"
                    for samples in (wall, cpu) for share in (0.5, 0.95)
                )))  # fmt: skip
        table(
            f"Task lists, server time over {SAMPLES} requests (target: p95 under 20 ms, flat);"
            " CPU time beside it, which other work on the machine does not inflate",
            ("request", "open tasks", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms"),
            sorted(rows, key=lambda row: [r[0] for r in REQUESTS].index(row[0])),
        )
        print_plans(plans)
        counter(app, clients["clerk"])
        engine.dispose()


def build_app(folder: Path) -> Flask:
    """Create the product in a folder: schema, processes, registries, a clerk and a supervisor."""
    settings = Settings.from_env(
        instance_path=folder,
        database_url=f"sqlite:///{folder / 'tirkeu.db'}",
        registry={"registry_mode": "sandbox", "registry_url": f"sqlite:///{folder / 'reg.db'}"},
    )
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    product = build(settings)
    initialise(product)
    for bundle in bundles([settings.processes_path]):
        product.runtime.deploy(read_bundle(bundle), deployed_by="bench")
    with product.session_factory.begin() as session:
        for user in ("clerk", "supervisor"):
            create_user(session, user, PASSWORD, [user], None, user.title())
    product.engine.dispose()
    return create_app(settings)


def signed_in(app: Flask, username: str) -> FlaskClient:
    """Return a test client signed in as the user."""
    client = app.test_client()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(client)}
    )
    assert response.status_code == 302, response.text
    return client


def csrf(client: FlaskClient) -> str:
    """Return the CSRF token of the client's session."""
    page = client.get("/login").text
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def api_tokens(app: Flask) -> dict[str, str]:
    """Issue a bearer token for each user."""
    with app.extensions["tirkeu_sessions"].begin() as session:
        return {user: issue_token(session, user) for user in ("clerk", "supervisor")}


def add_open_tasks(app: Flask, count: int) -> None:
    """Insert `count` open tasks, each with its instance and two IINs to search by."""
    sessions = app.extensions["tirkeu_sessions"]
    now = utcnow()
    pick = random.Random(count)
    with sessions.begin() as session:
        version_id = session.scalar(
            select(ProcessVersion.id).where(ProcessVersion.process_id == "residence_registration")
        )
        first_id = (session.scalar(select(Instance.id).order_by(Instance.id.desc())) or 0) + 1
    for start in range(0, count, BATCH):
        instances, tasks, keys = [], [], []
        for number in range(first_id + start, first_id + min(start + BATCH, count)):
            key = f"B-{number:07d}"
            channel = pick.choice(("service_centre", "online"))
            instances.append({
                "id": number, "process_version_id": version_id,
                "process_id": "residence_registration", "business_key": key,
                "status": "waiting", "state": b"", "serializer_version": "1",
                "summary": {"channel": channel}, "created_at": now, "updated_at": now,
            })  # fmt: skip
            task_id = str(uuid.UUID(int=pick.getrandbits(128)))
            claimed = pick.random() < 0.3
            tasks.append({
                "id": task_id, "instance_id": number, "process_id": "residence_registration",
                "business_key": key, "bpmn_id": "Task_CheckDocuments",
                "name": "Check documents at the counter", "role": pick.choice(ROLES),
                "claimed_by": f"clerk{pick.randrange(40)}" if claimed else None,
                "state": "claimed" if claimed else "ready", "channel": channel,
                "form": "check_documents.schema.json",
                "due_at": now + timedelta(minutes=pick.uniform(-120, 240)), "created_at": now,
            })  # fmt: skip
            # The person the bench searches for has five tasks, however many there are.
            person = SEARCHED_IIN if number <= 5 else f"{pick.randrange(10**11, 10**12)}"
            keys += [
                {"task_id": task_id, "key": person},
                {"task_id": task_id, "key": f"{pick.randrange(10**11, 10**12)}"},
            ]
        with sessions.begin() as session:
            session.execute(insert(Instance), instances)
            session.execute(insert(HumanTask), tasks)
            session.execute(insert(HumanTaskKey), keys)


def request_of(client: FlaskClient, token: str, path: str):
    """Return a call of a list path; API paths carry the bearer token, pages the cookie."""
    headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}

    def call() -> None:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code)

    return call


def timings(call) -> tuple[list[float], list[float]]:
    """Return SAMPLES wall and CPU timings of a call in milliseconds, after a warm-up."""
    for _ in range(10):
        call()
    wall, cpu = [], []
    for _ in range(SAMPLES):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def query_plans(engine: Engine, call) -> list[tuple[str, str]]:
    """Run a call once and return the SQLite plan of each task-list query it made."""
    statements: list[tuple[str, tuple]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "human_task" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append((statement, "; ".join(row[3] for row in rows)))
        connection.rollback()
    return plans


def bad_plan(plan: str) -> bool:
    """Tell whether a plan reads a task table whole or sorts it outside an index."""
    steps = [step.strip() for step in plan.split(";")]
    full_scan = any(
        step.startswith("SCAN") and "USING" not in step and "human_task" in step for step in steps
    )
    return full_scan or "TEMP B-TREE" in plan


def print_plans(plans: dict[str, list[tuple[str, str]]]) -> None:
    """Print whether every list query used an index, and the plans of those that did not."""
    bad = [
        (label, plan) for label, found in plans.items() for _sql, plan in found if bad_plan(plan)
    ]
    count = sum(len(found) for found in plans.values())
    print(f"\nQuery plans: {count - len(bad)} of {count} task-list queries read by index")
    for label, plan in bad:
        print(f"  {label}: {plan}")


def counter(app: Flask, client: FlaskClient) -> None:
    """Time the whole counter application through HTTP and in-process through the runtime."""
    runtime = app.extensions["tirkeu"]
    token = csrf(client)

    def through_http() -> None:
        started = client.post("/tasks/counter", data={**COUNTER_FORM, "csrf_token": token})
        task_page = started.headers["Location"]
        assert started.status_code == 303 and "/tasks/" in task_page, started.status_code
        # The counter's check starts claimed by the clerk who started it.
        form = {"identity_document_checked": "true", "authority_checked": "true"}
        done = client.post(
            f"{task_page}/complete",
            data={**form, "check_result": "accepted", "csrf_token": token},
        )
        assert done.status_code == 303, done.text

    def in_process() -> None:
        data = {**COUNTER_FORM, "channel": "service_centre", "arrived_from_abroad": False,
                "application_date": "2026-11-27"}  # fmt: skip
        view = runtime.start("residence_registration", data, actor="clerk")
        [task] = view.ready_tasks
        done = runtime.complete(task.id, CHECKED, actor="clerk")
        assert done.data["outcome"] == "registered"

    http, direct = medians_ms(through_http, in_process, runs=WHOLE_RUNS, warmup=2)
    table(
        f"Counter application: start, claim, complete; medians of {WHOLE_RUNS} runs",
        ("path", "ms"),
        [
            ("through HTTP (test client)", f"{http:.1f}"),
            ("in-process (runtime)", f"{direct:.1f}"),
            ("ratio", f"{http / direct:.2f}"),
        ],
    )
