"""What must hold after the load: outcomes, registry writes exactly once, a complete event log.

And the registries themselves: no person left without a registration, and every registered
application's person registered at its address under the registration id the instance recorded.
"""

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import create_engine, func, select

from service_tasks.sandbox_tables import person_table, write_answer, write_table
from webapp.db.models import HumanTask, Incident, Instance, InstanceEvent

EXPECTED = {"consent": "registered", "counter": "registered", "timeout": "cancelled"}
ENDED = ("completed", "terminated")


@dataclass
class Findings:
    """The checks' results: counts and every problem found."""

    instances: int = 0
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    open_incidents: int = 0
    seconds: float = 0.0


def ended_count(database_url: str) -> int:
    """Return how many instances have ended."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).select_from(Instance).where(Instance.status.in_(ENDED))
        )
    engine.dispose()
    return count


def check(database_url: str, registry_url: str, applications: list[dict]) -> Findings:
    """Compare every application's instance, registry writes and events with its path."""
    findings = Findings()
    engine = create_engine(database_url)
    registries = create_engine(registry_url)
    with engine.connect() as connection:
        instances = {
            row.business_key: row
            for row in connection.execute(
                select(Instance.id, Instance.business_key, Instance.status, Instance.summary,
                       Instance.created_at, Instance.completed_at)
            )
        }  # fmt: skip
        per_key = Counter(connection.scalars(select(Instance.business_key)).all())
        events = Counter(
            (row.instance_id, row.kind, row.task_id)
            for row in connection.execute(
                select(InstanceEvent.instance_id, InstanceEvent.kind, InstanceEvent.task_id)
            )
        )
        completed_tasks = connection.execute(
            select(HumanTask.instance_id, HumanTask.id).where(HumanTask.state == "completed")
        ).all()
        findings.open_incidents = connection.scalar(
            select(func.count()).select_from(Incident).where(Incident.status == "open")
        )
        recorded = {
            row.instance_id: (row.data or {}).get("registration_id")
            for row in connection.execute(
                select(InstanceEvent.instance_id, InstanceEvent.data).where(
                    InstanceEvent.bpmn_id == "Task_RecordRegistration",
                    InstanceEvent.kind == "task_completed",
                )
            )
        }
    with registries.connect() as connection:
        logged = connection.execute(
            select(write_table.c.id, write_table.c.application_number,
                   write_table.c.operation, write_table.c.result)
        ).all()  # fmt: skip
        writes = Counter((row.application_number, row.operation) for row in logged)
        registration_ids = {
            row.application_number: write_answer(row.operation, row.id, row.result)[
                "registration_id"
            ]
            for row in logged
            if row.operation == "register"
        }
        held = {
            iin: (doc.get("registration") or {}).get("arc")
            for iin, doc in connection.execute(select(person_table.c.iin, person_table.c.doc))
        }
    engine.dispose()
    registries.dispose()
    findings.instances = len(instances)
    started = {(instance_id, kind) for instance_id, kind, _ in events}
    for task_instance, task_id in completed_tasks:
        if events[(task_instance, "task_completed", task_id)] != 1:
            findings.problems.append(f"task {task_id}: not exactly one task_completed event")
    for application in applications:
        number, path = application["number"], application["path"]
        row = instances.get(number)
        if row is None:
            findings.problems.append(f"{number}: lost (no instance)")
            continue
        if per_key[number] != 1:
            findings.problems.append(f"{number}: {per_key[number]} instances")
        outcome = (row.summary or {}).get("outcome")
        findings.outcomes[outcome] += 1
        if row.status != "completed" or outcome != EXPECTED[path]:
            findings.problems.append(f"{number}: {row.status}/{outcome}, {EXPECTED[path]} wanted")
        registered = 1 if EXPECTED[path] == "registered" else 0
        for operation in ("register", "idcard"):
            made = writes[(number, operation)]
            if made != registered:
                wanted = f"{registered} wanted"
                findings.problems.append(f"{number}: {made} {operation} writes, {wanted}")
        person = application["data"]["person_iin"]
        if held.get(person) is None:
            findings.problems.append(f"{number}: person {person} left without a registration")
        if registered and row.status == "completed":
            if held.get(person) != application["data"]["arc"]:
                findings.problems.append(f"{number}: person not registered at the address")
            if recorded.get(row.id) != registration_ids.get(number):
                findings.problems.append(
                    f"{number}: registration id {recorded.get(row.id)} recorded,"
                    f" {registration_ids.get(number)} in the registry"
                )
        for kind in ("instance_started", "instance_completed"):
            if (row.id, kind) not in started:
                findings.problems.append(f"{number}: no {kind} event")
    ended = [r for r in instances.values() if r.completed_at is not None]
    if ended:
        first = min(r.created_at for r in instances.values())
        findings.seconds = (max(r.completed_at for r in ended) - first).total_seconds()
    return findings
