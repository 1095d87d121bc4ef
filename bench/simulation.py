"""What-if simulation: a month of 100,000 applications on the real registration diagram.

A history of a few hundred applications (counter checks, online consents, consents that time
out) runs through the real runtime on SQLite with a controlled clock; the model is learned
from it; then a month of 100,000 arrivals spread as the learned rates is simulated once, with
the staffing scaled to the load. Printed beside the target: 60 s.
"""

import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from webapp.bootstrap import bundles, product_runtime, read_bundle
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.signing import DemoSigner
from webapp.simulation.model import learn
from webapp.simulation.report import router_for
from webapp.simulation.run import poisson_arrivals, simulate

from .loadtest import dataset
from .loadtest.scenario import CHECK, CONSENT
from .report import table

ROOT = Path(__file__).resolve().parents[1]
PROCESS_ID = "residence_registration"
HISTORY = 240
TARGET = 100_000
TARGET_SECONDS = 60.0


class Clock:
    """The runtime's clock, moved by the history."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        """Return the time the history has reached."""
        return self.now


def month_start() -> datetime:
    """Return the next Monday 00:00 UTC: signatures made now are valid through the month."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 - today.weekday())


def history(folder: Path, start: datetime):
    """Run HISTORY applications over four weeks through the runtime; return it and its clock."""
    signer = DemoSigner()
    registry_url = f"sqlite:///{folder / 'registries.db'}"
    data, applications = dataset.build(HISTORY)
    store = SandboxStore(registry_url)
    store.load_dataset(data)
    store.dispose()
    engine = make_engine(f"sqlite:///{folder / 'tirkeu.db'}")
    upgrade(engine)
    settings = (ROOT / "processes" / "settings.json").read_text()
    runtime = product_runtime(
        make_session_factory(engine),
        build_operators({"registry_mode": "sandbox", "registry_url": registry_url}),
        json.loads(settings),
        lambda: [signer.ca.certificate_pem()],
    )
    clock = Clock(start)
    runtime.clock = clock
    [bundle] = bundles([ROOT / "processes" / PROCESS_ID])
    runtime.deploy(read_bundle(bundle), deployed_by="bench")
    rng = random.Random(3)  # nosec B311
    for n, application in enumerate(applications):
        # Weekdays 09:00-18:00 over four weeks.
        day = (n * 20) // HISTORY
        clock.now = start + timedelta(
            days=day // 5 * 7 + day % 5, hours=9, minutes=rng.randrange(9 * 60)
        )
        _one(runtime, signer, application, rng, clock)
    return runtime, engine


def _one(runtime, signer: DemoSigner, application: dict, rng: random.Random, clock: Clock) -> None:
    """Run one application of the history along its path, with human-like delays."""
    document = application["data"]
    view = runtime.start(
        PROCESS_ID, signer.signed(document, runtime.start_signing(PROCESS_ID, document))
    )
    for task in runtime.ready_tasks(view.id):
        if application["path"] == "timeout":
            # The worker fires the consent window as it ends.
            runtime.run_due_jobs(now=clock.now + timedelta(hours=1, seconds=1))
            return
        clock.now += timedelta(minutes=rng.choice((1, 2, 3, 5, 8)))
        actor = task.assignee or task.role
        runtime.claim(task.id, actor)
        clock.now += timedelta(minutes=rng.choice((3, 4, 5, 6, 9)))
        data = CONSENT if application["path"] == "consent" else CHECK
        runtime.complete(task.id, signer.signed(data, runtime.task_signing(task.id, data)), actor)


def run() -> dict[str, float]:
    """Simulate a month of 100,000 applications; print the time beside the target."""
    start = month_start()
    with tempfile.TemporaryDirectory() as folder:
        runtime, engine = history(Path(folder), start)
        with runtime.transaction() as session:
            model = learn(session, PROCESS_ID, start, start + timedelta(days=28))
            router = router_for(runtime, session, model, model.version)
            scale = TARGET / max(len(model.arrivals), 1)
            staffing = {
                lane: [round(n * scale) for n in plan] for lane, plan in model.staffing.items()
            }
            arrivals = poisson_arrivals(model, TARGET, seed=1)
            began = time.perf_counter()
            result = simulate(model, router, staffing, seed=1, arrivals=arrivals)
            seconds = time.perf_counter() - began
        engine.dispose()
    table(
        f"What-if simulation: {len(result.leads)} applications in a month, one run",
        ("", "seconds", "target s", "engine runs", "outcomes"),
        [
            (
                "simulate",
                round(seconds, 1),
                TARGET_SECONDS,
                router.engine_runs,
                dict(result.outcomes.most_common()),
            )
        ],
    )
    return {"seconds": seconds}


if __name__ == "__main__":
    run()
