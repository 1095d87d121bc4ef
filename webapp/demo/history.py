"""A month of history for the demo, run through the real runtime on a simulated clock.

Applications arrive over the month as `population` draws them; the runtime runs each step at the
simulated time, clerks, supervisors and owners act after delays drawn from skewed distributions
(most quickly, a few slowly), and a worker fires due timers and retries as time passes. The
registration point is down for most of an hour mid-month, so incidents open and an
administrator retries them; in the last hours the ID card service fails and its incidents stay
open. What is still to do at the end (the last hours' tasks, a few abandoned counter checks)
stays open, overdue where its term has passed. The same seed gives the same month.
"""

import heapq
import itertools
import logging
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import wraps

from sqlalchemy import bindparam, event, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from service_tasks.errors import TechnicalError
from service_tasks.operators import build_operators, sandbox_store
from webapp.bootstrap import Product, product_runtime
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Incident, Instance, Job
from webapp.db.session import make_engine, make_session_factory
from webapp.garbage import fewer_collections
from webapp.online.pki import PKI_FOLDER, trusted_ca_pems
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import Conflict, NotFound
from webapp.runtime.views import TaskView
from webapp.signing import DemoCA, DemoSigner

from .hours import next_open
from .population import Application, Month, Population

log = logging.getLogger(__name__)

PROCESS_ID = "residence_registration"
# Two thousand, so that every list, chart and export has something in it and the first start
# plays them in under a minute; `--history N` chooses another number. The runtime's steps take
# nine tenths of the time they cost, about 25 ms of one core each.
DEFAULT_APPLICATIONS = 2000
DAYS = 30
SEED = 14
CLERK, SUPERVISOR, ADMINISTRATOR = "clerk", "supervisor", "admin"
# The demo clerk of each service centre (`tirkeu init --demo` gives them their centres): a
# counter application's checks are worked at its centre; online ones by CLERK.
CENTRE_CLERKS = {"AST-YESIL": CLERK, "ALM-BOSTANDYK": "clerk_almaty"}
SIGNED_AFTER = timedelta(hours=1)
CLERK_TASKS = ("Task_CheckDocuments", "Task_CheckPetition", "Task_CheckDeregistrationDocument")
# The worker looks for due timers and retries at most this often in simulated time, as the
# product's worker polls: a job due meanwhile fires up to this much late, after the actions
# between. Looking before every action cost a transaction each, a few in a hundred of the
# history's time, for a precision nobody could see in a month.
SWEEP_EVERY = timedelta(minutes=1)
# The earliest job due before `until` that no worker holds (the product's worker's own test).
NEXT_DUE = select(func.min(Job.due_at)).where(
    Job.due_at < bindparam("until"),
    or_(Job.locked_until.is_(None), Job.locked_until < bindparam("now")),
)
NEW_TASKS = select(HumanTask).where(
    HumanTask.created_at >= bindparam("since"), HumanTask.state == "ready"
)
# The history commits some ten thousand steps in a row. SQLite's default copies its log back
# into the database every thousand pages, writing the same index pages again and waiting for
# the disk hundreds of times; the history's own connections do it every this many pages
# (some 200 MB of log at most), and once at the end.
CHECKPOINT_PAGES = 50_000


class NoHistory(Exception):
    """The demo history cannot be played on this product's settings; the message says why."""


class SimulatedClock:
    """The runtime's clock during the history: it says what the history has set."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        """Return the simulated time."""
        return self.now


@dataclass(frozen=True)
class Outage:
    """A registry operator that fails with a technical error for a while."""

    operator: str
    start: datetime
    end: datetime


def with_outages(
    operators: Mapping[str, Callable], outages: list[Outage], clock: SimulatedClock
) -> dict[str, Callable]:
    """Return the operators, those named by an outage failing while it lasts."""

    def failing(name: str, operator: Callable) -> Callable:
        # The signature is kept: the runtime reads it to know which operators write.
        @wraps(operator)
        def call(*args, **kwargs):
            for outage in outages:
                if outage.operator == name and outage.start <= clock.now < outage.end:
                    raise TechnicalError(f"{name}: the registry answered 503 Service Unavailable")
            return operator(*args, **kwargs)

        return call

    names = {outage.operator for outage in outages}
    return {name: failing(name, op) if name in names else op for name, op in operators.items()}


def minutes(rng: random.Random, median: float, spread: float = 0.6) -> timedelta:
    """Return a log-normal delay: most near the median, a long tail of slow ones."""
    return timedelta(minutes=median * math.exp(rng.gauss(0, spread)))


@dataclass
class Summary:
    """What the history made: applications started, instances by status, tasks left open."""

    applications: int = 0
    statuses: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    open_tasks: int = 0
    open_incidents: int = 0

    def to_dict(self) -> dict:
        """Return the summary as JSON."""
        return {
            "applications": self.applications,
            "statuses": dict(self.statuses),
            "outcomes": dict(self.outcomes),
            "open_tasks": self.open_tasks,
            "open_incidents": self.open_incidents,
        }


class History:
    """Plays a month of applications on the runtime, in time order."""

    def __init__(self, runtime: Runtime, clock: SimulatedClock, signer: DemoSigner, seed: int):
        self.runtime = runtime
        self.clock = clock
        self.signer = signer
        self.rng = random.Random(seed + 1)  # nosec B311: a repeatable demo, not a secret
        self.queue: list = []
        self.order = itertools.count()
        self.known: set[str] = set()
        self.plans: dict[int, Application] = {}
        self.swept = clock.now

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        """Schedule an action."""
        heapq.heappush(self.queue, (moment, next(self.order), action))

    def run(self, until: datetime, progress: Callable[[int], None] | None = None) -> None:
        """Run every action due before `until`, the worker sweeping as the clock passes."""
        done = 0
        while self.queue and self.queue[0][0] < until:
            moment, _, action = heapq.heappop(self.queue)
            if moment >= self.swept + SWEEP_EVERY:
                self.fire_jobs(moment)
            self.clock.now = max(self.clock.now, moment)
            # The work may have gone away meanwhile (a refusal, a timer): as at a real desk.
            with suppress(Conflict, NotFound):
                action()
            done += 1
            if progress and done % 100 == 0:
                progress(done)
        self.fire_jobs(until)
        self.clock.now = until

    def fire_jobs(self, until: datetime) -> None:
        """Let the worker fire each job due before `until`, at its due time."""
        self.swept = until
        while True:
            # Core on the session's connection: this look runs about once per action.
            with self.runtime.transaction() as session:
                due = session.connection().scalar(NEXT_DUE, {"until": until, "now": self.clock.now})
            if due is None:
                return
            self.clock.now = max(self.clock.now, due + timedelta(seconds=1))
            fired_at = self.clock.now
            if not self.runtime.run_due_jobs(now=fired_at):
                return
            with self.runtime.transaction() as session:
                for row in session.scalars(NEW_TASKS, {"since": fired_at}):
                    self.follow(TaskView.of(row))

    # The people

    def arrive(self, application: Application) -> None:
        """Schedule an application's start."""

        def start() -> None:
            data = dict(application.data)
            signing = self.runtime.start_signing(PROCESS_ID, data)
            view = self.runtime.start(PROCESS_ID, self.signer.signed(data, signing))
            self.plans[view.id] = application
            for task in view.ready_tasks:
                self.follow(task)

        self.at(application.arrives, start)

    def follow(self, task: TaskView) -> None:
        """Schedule what the people do about a task that has just appeared."""
        if task.id in self.known:
            return
        self.known.add(task.id)
        application = self.plans.get(task.instance_id)
        if application is None:
            return  # not one of the history's applications: nobody here works it
        plan = application.plan
        now, rng = self.clock.now, self.rng
        if task.bpmn_id == "Task_GiveConsent":
            if plan.consent == "silent":
                return
            given = plan.consent == "given"
            answer = {"consent_given": given}
            self.at(now + minutes(rng, 12, 0.8), lambda: self.answer(task, answer))
        elif task.bpmn_id in CLERK_TASKS:
            if plan.abandoned:
                return
            claimed = next_open(now + minutes(rng, 4, 0.9))
            worked = minutes(rng, 8, 0.5)
            clerk = CENTRE_CLERKS.get(application.data.get("service_centre_id"), CLERK)
            self.at(claimed, lambda: self.work(task, clerk, self.check(task, plan), worked))
        elif task.bpmn_id == "Task_ReviewRubberFlat":
            claimed = next_open(now + minutes(rng, 25, 0.7))
            review = {"check_result": plan.review, "review_note": "compared with the register"}
            self.at(claimed, lambda: self.work(task, SUPERVISOR, review, minutes(rng, 6)))
        elif task.bpmn_id == "Task_HandleOverdueCheck" and not plan.abandoned:
            claimed = now + minutes(rng, 6, 0.8)
            action = {"escalation_action": rng.choice(("assisted", "reassigned", "no_action"))}
            self.at(claimed, lambda: self.work(task, SUPERVISOR, action, minutes(rng, 3)))

    def check(self, task: TaskView, plan) -> dict:
        """Return the clerk's answer to a check task, as the plan has it."""
        result = {"check_result": plan.check, "check_note": ""}
        if task.bpmn_id == "Task_CheckDocuments":
            return {"identity_document_checked": True, "authority_checked": True,
                    "owner_consent_checked": True, **result}  # fmt: skip
        if task.bpmn_id == "Task_CheckPetition":
            day = self.clock.now.date().isoformat()
            return {"petition_number": f"{self.rng.randrange(1, 99)}-04/{task.instance_id}",
                    "petition_date": day, **result}  # fmt: skip
        document = "foreign_mission_certificate" if plan.check == "accepted" else "none"
        return {"deregistration_document": document, **result}

    def answer(self, task: TaskView, data: dict) -> None:
        """Complete an owner's consent, signed by the owner."""
        signed = self.signer.signed(data, self.runtime.task_signing(task.id, data))
        self.followed(self.runtime.complete(task.id, signed, actor=task.assignee))

    def work(self, task: TaskView, actor: str, data: dict, worked: timedelta) -> None:
        """Claim a task now and complete it `worked` later."""
        self.runtime.claim(task.id, actor)
        self.at(self.clock.now + worked, lambda: self.followed(
            self.runtime.complete(task.id, data, actor=actor)))  # fmt: skip

    def followed(self, view) -> None:
        """Follow the tasks an instance has open after a step."""
        for task in view.ready_tasks:
            self.follow(task)

    def retry_incidents(self) -> None:
        """Retry every open incident, as an administrator does when a registry is back."""
        with self.runtime.transaction() as session:
            ids = session.scalars(select(Incident.id).where(Incident.status == "open")).all()
        for incident_id in ids:
            self.followed(self.runtime.retry_incident(incident_id, ADMINISTRATOR))


@contextmanager
def history_sessions(product: Product) -> Iterator[sessionmaker[Session]]:
    """Yield the sessions the history's steps run on: on SQLite, connections that copy the
    log back into the database seldom, and all of it when the history is played."""
    url = product.settings.database_url
    if not url.startswith("sqlite"):
        yield product.session_factory
        return
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _checkpoint_seldom(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")

    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        with product.engine.connect() as connection:
            connection.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def has_history(product: Product) -> bool:
    """Tell whether the database holds any instance of the registration process."""
    with product.session_factory() as session:
        return (
            session.scalar(select(Instance.id).where(Instance.process_id == PROCESS_ID).limit(1))
            is not None
        )


def seed_history(
    product: Product,
    applications: int = DEFAULT_APPLICATIONS,
    days: int = DAYS,
    seed: int = SEED,
    end: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary | None:
    """Play `days` of applications ending at `end` (now); None when there is history already.

    The demo's certification authority (made by `tirkeu init --demo`) signs for the people.
    """
    if has_history(product):
        return None
    settings = product.settings
    if (settings.registry.get("registry_mode") or "sandbox") != "sandbox":
        raise NoHistory("the demo history runs on the sandbox registries only")
    ca = DemoCA.load(settings.instance_path / PKI_FOLDER)
    if ca.certificate_pem() not in trusted_ca_pems(settings.trusted_ca_paths):
        raise NoHistory("the demo CA is not among TIRKEU_TRUSTED_CAS: its people could not sign")
    end = (end or utcnow()).replace(microsecond=0)
    # A demo CA made before CAs were backdated cannot sign earlier than it was made.
    start = max(end - timedelta(days=days), ca.certificate.not_valid_before_utc + SIGNED_AFTER)
    middle = (start + (end - start) / 2).replace(hour=5, minute=10)
    outages = [
        Outage("registration.register", middle, middle + timedelta(minutes=50)),
        Outage("idcard.rewrite_address", end - timedelta(hours=3), end + timedelta(hours=1)),
    ]
    rng = random.Random(seed)  # nosec B311: a repeatable demo, not a secret
    people = Population(rng)
    month = Month(rng, people)
    arrivals = month.arrivals(applications, start, end, [(o.start, o.end) for o in outages])
    sandbox_store(settings.registry).add_dataset(people.dataset())
    clock = SimulatedClock(start)
    with history_sessions(product) as sessions, fewer_collections():
        runtime = product_runtime(
            sessions,
            with_outages(build_operators(settings.registry), outages, clock),
            settings.process_settings,
            lambda: trusted_ca_pems(settings.trusted_ca_paths),
            settings.registry_writers,
            clock=clock,
        )
        signer = DemoSigner(ca, not_before=start - SIGNED_AFTER)
        history = History(runtime, clock, signer, seed)
        for application in arrivals:
            history.arrive(application)
        history.at(middle + timedelta(minutes=75), history.retry_incidents)
        history.run(end, progress)
    return summarise(product, len(arrivals))


def summarise(product: Product, applications: int) -> Summary:
    """Count what the history left in the database."""
    summary = Summary(applications)
    with product.session_factory() as session:
        counted = session.execute(select(Instance.status, func.count()).group_by(Instance.status))
        summary.statuses.update(dict(counted.all()))
        for (outcome,) in session.execute(select(Instance.summary)):
            summary.outcomes[(outcome or {}).get("refusal_reason") or
                             (outcome or {}).get("outcome") or "open"] += 1  # fmt: skip
        summary.open_tasks = session.scalar(
            select(func.count()).where(HumanTask.state.in_(("ready", "claimed")))
        )
        summary.open_incidents = session.scalar(
            select(func.count()).where(Incident.status == "open")
        )
    return summary
