"""The sandbox registries' share of one counter registration: its seven calls in CPU time.

A counter registration asks the population registry, the address register and the real
estate registry, then registers, rewrites the ID card and sends two notices (four writes).
The calls run through the operator table on a sandbox store on SQLite and on one on
PostgreSQL, taking turns; PostgreSQL's CPU is that of the server processes behind the store's
connections. The statements each call sends are counted in a pass of their own.
"""

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

from sqlalchemy import Engine, create_engine, event

from service_tasks.operators import Operator, operators_for
from service_tasks.sandbox import SandboxStore

from .loadtest import dataset
from .loadtest.cluster import schema_url
from .registration import SERVER, Postgres, ensure_database
from .report import table

RUNS = 100
WARMUP = 10


def registration_calls(operators: dict[str, Operator], application: dict, number: str) -> None:
    """Make the seven registry calls of one counter registration, as the diagram makes them."""
    data = application["data"]
    iin, arc = data["person_iin"], data["arc"]
    operators["population.person"](iin=iin)
    operators["address.premises"](arc=arc)
    operators["realestate.title"](arc=arc)
    registration = operators["registration.register"](
        application_number=number, iin=iin, arc=arc, registration_type="permanent",
        period_months=None, idempotency_key=f"{number}:Task_Register",
    )  # fmt: skip
    operators["idcard.rewrite_address"](
        application_number=number, iin=iin, arc=arc, idempotency_key=f"{number}:Task_RewriteIdCard"
    )
    notice = {"person_iin": iin, "arc": arc, "registration_type": "permanent"}
    operators["notify.send"](
        application_number=number, iin=iin, channel="account", template="registration_completed",
        params={**notice, "registration_id": registration["registration_id"]},
        idempotency_key=f"{number}:Task_NotifyApplicant",
    )  # fmt: skip
    operators["notify.send"](
        application_number=number, iin=application["owner"], channel="account",
        template="registration_completed_owner", params=notice,
        idempotency_key=f"{number}:Task_NotifyOwners:0",
    )  # fmt: skip


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Collect the statements sent on an engine while the block runs, COMMITs included."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    def commit(_conn) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "commit", commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(engine, "commit", commit)


class Variant:
    """One sandbox store loaded with the load test's data set, and its applications."""

    def __init__(self, name: str, store: SandboxStore, data: dict, postgres: Postgres | None):
        self.name = name
        self.store = store
        store.load_dataset(data)
        self.operators = operators_for(store.registries())
        self.postgres = postgres
        self.runs = 0

    def measured(self, application: dict) -> tuple[float, float]:
        """Make one registration's calls; return our CPU ms and PostgreSQL's."""
        self.runs += 1
        number = f"B-{self.runs:06d}"
        server = self.postgres.cpu_ms() if self.postgres else 0.0
        began = time.process_time()
        registration_calls(self.operators, application, number)
        mine = (time.process_time() - began) * 1000
        return mine, (self.postgres.cpu_ms() - server) if self.postgres else 0.0

    def statements(self, application: dict) -> int:
        """Return how many statements one registration's calls send."""
        with counted(self.store.engine) as sent:
            registration_calls(self.operators, application, f"B-count-{self.name}")
        return len(sent)


def run(runs: int = RUNS) -> dict[str, float]:
    """Measure and print the CPU of the registry calls of one registration; return medians."""
    data, applications = dataset.build(2 * (runs + WARMUP) + 2)
    tag = f"bench_{uuid4().hex[:10]}_registries"
    with tempfile.TemporaryDirectory() as folder:
        variants = [
            Variant("SQLite", SandboxStore(f"sqlite:///{Path(folder) / 'r.db'}"), data, None)
        ]
        admin = None
        try:
            ensure_database(SERVER)
            admin = create_engine(SERVER)
            with admin.begin() as connection:
                connection.exec_driver_sql(f"CREATE SCHEMA {tag}")
            url = schema_url(SERVER, tag) + f"&application_name={tag}"
            variants.append(Variant("PostgreSQL", SandboxStore(url), data, Postgres(SERVER, tag)))
        except Exception as error:  # noqa: BLE001  (no PostgreSQL: the SQLite figure stands)
            print(f"\nsandbox registries on PostgreSQL skipped: {error}")
        try:
            return _measure(variants, iter(applications), runs)
        finally:
            for variant in variants:
                variant.store.dispose()
            if admin is not None:
                with admin.begin() as connection:
                    connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {tag} CASCADE")
                admin.dispose()


def _measure(variants: list[Variant], applications: Iterator[dict], runs: int) -> dict[str, float]:
    """Run the variants in turns; print and return the medians."""
    samples: dict[str, list[tuple[float, float]]] = {v.name: [] for v in variants}
    for round_ in range(WARMUP + runs):
        for variant in variants:
            sample = variant.measured(next(applications))
            if round_ >= WARMUP:
                samples[variant.name].append(sample)
    rows, medians = [], {}
    for variant in variants:
        ours = statistics.median(m for m, _ in samples[variant.name])
        # PostgreSQL's CPU is counted in clock ticks (10 ms): its mean over the runs is the figure.
        server = statistics.fmean(s for _, s in samples[variant.name])
        medians[variant.name] = ours + server
        count = variant.statements(next(applications))
        rows.append((variant.name, f"{ours + server:.2f}", f"{ours:.2f} + {server:.2f}", count))
    table(
        f"Sandbox registries: the 7 calls of one counter registration, CPU ms, {runs} "
        "interleaved runs: our median + PostgreSQL's mean",
        ("database", "CPU ms", "ours + PostgreSQL", "statements"),
        rows,
    )
    return medians


if __name__ == "__main__":
    run()
