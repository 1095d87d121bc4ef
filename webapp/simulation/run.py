"""One seeded run of a period in SimPy: cases follow the memoised routes of the real diagram.

Clerks are SimPy resources, one pool per staffed lane and service centre (a lane's own pool
for tasks of applications made online), whose size follows the staffing plan hour by hour (an
absent clerk is a high-priority request that holds a place). A task of an
unstaffed lane (an owner's consent) waits its sampled waiting and working time. Timers are
SimPy timeouts racing the tasks they are attached to. A service task's call takes a latency
drawn from its learned ones; it fails at its learned rate and holds its case for a delay the
log's incidents took, or for good.
"""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import simpy

from .model import Model, TaskModel, centre_of
from .routing import Node, Ready, Router
from .staffing import HOUR, HOURS_PER_WEEK, pool_of, until_on_duty, week_seconds
from .survival import answer_weights

ABSENT = -1  # the priority of an absence: it goes before every waiting case
# How long after the last arrival the run goes on for the cases still open.
HORIZON = 14 * 24 * HOUR


@dataclass
class RunResult:
    """What one run measured."""

    # channel, type, lead seconds, and when it ended (seconds after the period's start)
    leads: list[tuple[str, str, float, float]] = field(default_factory=list)
    waits: dict[str, list[float]] = field(default_factory=dict)  # bpmn id -> queue seconds
    pool_waits: dict[str, list[float]] = field(default_factory=dict)  # pool -> queue seconds
    busy: dict[str, list[float]] = field(default_factory=dict)  # pool -> seconds per hour of week
    staffed: dict[str, list[float]] = field(default_factory=dict)  # pool -> clerk seconds
    outcomes: Counter = field(default_factory=Counter)
    timers: Counter = field(default_factory=Counter)  # timer bpmn id -> times fired
    tasks: Counter = field(default_factory=Counter)  # bpmn id -> completions
    incidents: Counter = field(default_factory=Counter)  # service task bpmn id -> failures


class Pool:
    """Clerks of one lane (at one centre); their number follows a plan of 168 hourly values."""

    def __init__(self, env: simpy.Environment, name: str, plan: list[int], result: RunResult):
        self.env, self.name, self.plan = env, name, plan
        self.size = max(max(plan), 1)
        self.resource = simpy.PriorityResource(env, capacity=self.size)
        self.result = result
        result.busy[name] = [0.0] * HOURS_PER_WEEK
        result.staffed[name] = [0.0] * HOURS_PER_WEEK
        result.pool_waits[name] = []
        self.absent: list = []
        env.process(self.shifts())

    def shifts(self):
        """Each hour, send clerks home or back to match the plan."""
        while True:
            hour = int(self.env.now // HOUR) % HOURS_PER_WEEK
            wanted = self.size - self.plan[hour]
            while len(self.absent) < wanted:
                self.absent.append(self.resource.request(priority=ABSENT))
            while len(self.absent) > wanted:
                self.resource.release(self.absent.pop())
            self.result.staffed[self.name][hour] += self.plan[hour] * HOUR
            yield self.env.timeout(HOUR - self.env.now % HOUR)

    def count_busy(self, start: float, end: float) -> None:
        """Add a clerk's busy seconds to the hours of the week they fall in."""
        busy = self.result.busy[self.name]
        while start < end:
            boundary = (start // HOUR + 1) * HOUR
            busy[int(start // HOUR) % HOURS_PER_WEEK] += min(end, boundary) - start
            start = boundary


class Simulation:
    """One run: arrivals, cases, pools and what they measured."""

    def __init__(self, model: Model, router: Router, staffing: dict, seed: int):
        self.model, self.router = model, router
        self.rng = random.Random(seed)  # nosec B311
        # Registry failures draw from their own stream: a what-if on them leaves people's
        # times and decisions as they were.
        self.failing = random.Random(seed)  # nosec B311
        # And registry latencies from another: a log without durations draws none of them.
        self.latency = random.Random(f"{seed}:latency")  # nosec B311
        # Simulated time is seconds from a local Monday 00:00: its hour is the plan's hour.
        self.offset = week_seconds(model.start)
        self.env = simpy.Environment(initial_time=self.offset)
        self.result = RunResult()
        self.pools = {
            name: Pool(self.env, name, plan, self.result) for name, plan in staffing.items()
        }
        self.fallback = _pooled(model)
        # The completions each task's times are drawn from, per centre where the log has any.
        self.drawn: dict[tuple[str, str | None], list[int]] = {}
        # And a person's task's: those completions, each one's weight, and the weight of never.
        self.answering: dict[tuple[str, str | None], tuple[list[int], list[float], float]] = {}
        self.open, self.arrived = 0, False
        self.unfinished: dict[object, tuple[str, str, float]] = {}
        self.done = self.env.event()

    def task_model(self, bpmn_id: str, lane: str | None) -> TaskModel:
        """Return a task's learned times, or its lane's (a task the log has not seen)."""
        known = self.model.tasks.get(bpmn_id)
        if known is not None and known.working:
            return known
        return self.fallback.get(lane) or self.fallback[None]

    def draws(self, bpmn_id: str, task: TaskModel, centre: str | None) -> list[int]:
        """Return the completions a task's times are drawn from: those at the case's centre
        when the log has some there, else all."""
        key = (bpmn_id, centre)
        if key not in self.drawn:
            here = [n for n, c in enumerate(task.centres) if c == centre and centre]
            self.drawn[key] = here or list(range(len(task.working)))
        return self.drawn[key]

    def answer(self, bpmn_id: str, task: TaskModel, centre: str | None) -> int | None:
        """Return the completion whose times a person's task takes, drawn as the log's answers
        are once the tasks cancelled unanswered are counted (see `survival`); None for a
        person who answers later than any the log saw, so never within its window."""
        key = (bpmn_id, centre)
        if key not in self.answering:
            drawn = self.draws(bpmn_id, task, centre)
            # Drawn at the case's centre when the log has answers there: so are the cut ones.
            here = centre is not None and centre in task.centres[drawn[0] : drawn[0] + 1]
            pairs = zip(task.censored, task.censored_centres, strict=True)
            cut = [t for t, c in pairs if c == centre or not here]
            times = [task.waiting[n] + task.working[n] for n in drawn]
            self.answering[key] = (drawn, *answer_weights(times, cut))
        drawn, weights, never = self.answering[key]
        if self.rng.random() < never:
            return None
        return self.rng.choices(drawn, weights)[0]

    def run(self, arrivals: list[tuple[float, int]]) -> RunResult:
        """Run every arrival to its end, or to the horizon, and return the measures.

        A case still open at the horizon (no clerk ever staffed for its task) counts with the
        time it had waited so far, as `unfinished`.
        """
        self.env.process(self.arrive(arrivals))
        if arrivals:
            horizon = self.offset + arrivals[-1][0] + HORIZON
            self.env.run(
                until=self.env.any_of([self.done, self.env.timeout(horizon - self.offset)])
            )
        for channel, kind, began in self.unfinished.values():
            self.result.leads.append((channel, kind, self.env.now - began, self.ended))
            self.result.outcomes["unfinished"] += 1
        return self.result

    @property
    def ended(self) -> float:
        """Return the simulated time as seconds after the period's start."""
        return self.env.now - self.offset

    def arrive(self, arrivals: list[tuple[float, int]]):
        """Start each case at its arrival time."""
        for offset, sample in arrivals:
            yield self.env.timeout(max(self.offset + offset - self.env.now, 0.0))
            self.open += 1
            self.env.process(self.case(sample))
        self.arrived = True
        if self.open == 0:
            self.done.succeed()

    def case(self, sample: int):
        """Walk one application's route, spending simulated time at each wait."""
        data = self.model.samples[sample]
        began = self.env.now
        kind = (str(data.get("channel", "")), str(data.get("registration_type", "")))
        me = object()
        self.unfinished[me] = (*kind, began)
        path: tuple = (sample,)
        node = self.router.node(path)
        working: dict[str, simpy.Process] = {}
        timers: dict[str, simpy.Event] = {}
        silent: dict[str, bool] = {}  # per task of the diagram: whether this case's go unanswered
        while (lost := self.incidents(node)) is not None:
            # The calls of one step run one after another, and nothing else moves the case
            # meanwhile: the step takes their latencies' sum, then what its failures cost.
            spent = self.calls(node) + lost
            if spent:
                yield self.env.timeout(spent)
            if node.ended:
                break
            for ready in node.ready:
                if ready.task_id not in working:
                    working[ready.task_id] = self.env.process(
                        self.work(ready, silent, centre_of(data))
                    )
            for task_id, due, _bpmn_id in node.timers:
                if task_id not in timers:
                    timers[task_id] = self.env.timeout(due, value=task_id)
            pending = [p for p in working.values() if not p.triggered] + [
                t for t in timers.values() if not t.processed
            ]
            yield self.env.any_of(pending)
            path, node = self._next(path, node, working, timers)
        del self.unfinished[me]
        if lost is None:
            # An incident nobody resolved: the instance stays in error, with no lead time.
            for process in working.values():
                if process.is_alive:
                    process.interrupt()
            self.result.outcomes["incident"] += 1
        else:
            self.result.leads.append((*kind, self.env.now - began, self.ended))
            self.result.outcomes[node.outcome] += 1
        self.open -= 1
        if self.open == 0 and self.arrived:
            self.done.succeed()

    def incidents(self, node: Node) -> float | None:
        """Return the time the service tasks the node's step ran lost to failures, or None
        when one failed for good; each fails at its learned rate, costing a learned delay."""
        lost = 0.0
        for bpmn_id in node.services:
            service = self.model.services.get(bpmn_id)
            if not service or self.failing.random() >= service["failure_rate"]:
                continue
            self.result.incidents[bpmn_id] += 1
            n = self.failing.randrange(service["failures"])
            if n >= len(service["delays"]):
                return None
            lost += service["delays"][n]
        return lost

    def calls(self, node: Node) -> float:
        """Return the seconds the registry calls of the node's step took, each drawn from its
        service task's learned latencies (none learned: the call takes no time)."""
        spent = 0.0
        for bpmn_id in node.services:
            learned = self.model.services.get(bpmn_id, {}).get("latency_ms")
            if learned:
                spent += self.latency.choice(learned) / 1000
        return spent

    def _next(self, path: tuple, node: Node, working: dict, timers: dict) -> tuple[tuple, Node]:
        """Apply the first thing that finished (a task, else a timer) and return the new node."""
        for ready in node.ready:
            process = working[ready.task_id]
            if process.triggered:
                del working[ready.task_id]
                self.result.tasks[ready.bpmn_id] += 1
                path = (*path, ("task", ready.task_id, process.value))
                break
        else:
            task_id = next(t for t, e in timers.items() if e.processed or e.triggered)
            del timers[task_id]
            self.result.timers[next(b for t, _d, b in node.timers if t == task_id)] += 1
            path = (*path, ("timer", task_id, 0))
        new = self.router.node(path)
        for task_id, process in list(working.items()):
            if not any(r.task_id == task_id for r in new.ready):
                # A timer or an interrupting event cancelled the task: its clerk is freed.
                if process.is_alive:
                    process.interrupt()
                del working[task_id]
        for task_id in list(timers):
            if not any(t == task_id for t, *_rest in new.timers):
                del timers[task_id]
        return path, new

    def work(self, ready: Ready, silent: dict[str, bool], centre: str | None):
        """Have a task worked: queue for a clerk of its lane at the case's centre (or of its
        lane, online or at a centre with no pool of its own), or wait for its person (who, as
        the log's share of applications says, may never answer: drawn once per case)."""
        task = self.task_model(ready.bpmn_id, ready.lane)
        lane = ready.lane or ""
        pool = self.pools.get(pool_of(lane, centre)) or self.pools.get(lane)
        known = self.model.tasks.get(ready.bpmn_id)
        if pool is None and known and known.unanswered and ready.bpmn_id not in silent:
            silent[ready.bpmn_id] = self.rng.random() * known.cases < known.unanswered
        if pool is not None:
            n = self.rng.choice(self.draws(ready.bpmn_id, task, centre))
        elif not silent.get(ready.bpmn_id):
            n = self.answer(ready.bpmn_id, task, centre)
        if pool is None and (silent.get(ready.bpmn_id) or n is None):
            try:
                yield self.env.event()  # never answered: only a timer or an end stops it
            except simpy.Interrupt:
                return None
        choices = self.router.choices.setdefault(ready.bpmn_id, task.choices or [{}])
        choice = task.made[n] if task.made and n < len(task.made) else 0
        choice = min(choice, len(choices) - 1)
        try:
            if pool is None:
                yield self.env.timeout(task.waiting[n] + task.working[n])
                return choice
            # Claimed when its clerk would have picked it up (the waiting the log shows) or,
            # if later, when a clerk is free: cases keep their place by when they queued.
            queued = self.env.now
            hours = self.model.duty.get(ready.bpmn_id) or self.model.duty.get(ready.lane or "")
            yield self.env.timeout(
                until_on_duty(queued, task.waiting[n], hours) if hours else task.waiting[n]
            )
            with pool.resource.request(priority=queued) as request:
                yield request
                self.result.waits.setdefault(ready.bpmn_id, []).append(self.env.now - queued)
                self.result.pool_waits[pool.name].append(self.env.now - queued)
                begun = self.env.now
                try:
                    yield self.env.timeout(task.working[n])
                finally:
                    pool.count_busy(begun, self.env.now)
            return choice
        except simpy.Interrupt:
            return None


def _pooled(model: Model) -> dict[str | None, TaskModel]:
    """Return every lane's tasks pooled, and all tasks pooled under None."""
    pooled: dict[str | None, TaskModel] = defaultdict(lambda: TaskModel(None))
    for task in model.tasks.values():
        for key in (task.lane, None):
            target = pooled[key]
            target.waiting += task.waiting
            target.working += task.working
    if not pooled[None].working:
        pooled[None].waiting, pooled[None].working = [0.0], [0.0]
    return dict(pooled)


def simulate(
    model: Model,
    router: Router,
    staffing: dict[str, list[int]],
    seed: int,
    arrivals: list[tuple[float, int]] | None = None,
) -> RunResult:
    """Run one seeded simulation of the model's period (or of other arrivals) on a router."""
    return Simulation(model, router, staffing, seed).run(
        model.arrivals if arrivals is None else arrivals
    )


def poisson_arrivals(model: Model, count: int, seed: int) -> list[tuple[float, int]]:
    """Return `count` arrivals over the model's period, spread as the learned rates are."""
    rng = random.Random(seed)  # nosec B311
    weights = [0.0] * HOURS_PER_WEEK
    for key, rate in model.rates.items():
        weights[int(key.rsplit("|", 1)[1])] += rate
    first = int(week_seconds(model.start) // HOUR)
    hours = int((model.end - model.start).total_seconds() // HOUR)
    per_hour = [weights[(first + h) % HOURS_PER_WEEK] for h in range(hours)]
    chosen = rng.choices(range(hours), per_hour, k=count) if sum(per_hour) else []
    times = sorted(h * HOUR + rng.random() * HOUR for h in chosen)
    return [(t, rng.randrange(len(model.samples))) for t in times]
