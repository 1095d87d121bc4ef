"""The current and a candidate version simulated side by side over a period, several seeds each."""

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import ProcessVersion
from webapp.runtime.engine import Runtime

from .model import HOURS_PER_WEEK, Model, learn, percentile
from .plan import merged, refused
from .routing import Router, SimulationEngine
from .run import RunResult, simulate

DEFAULT_TERM = "PT15M"


@dataclass(frozen=True)
class Request:
    """What to simulate: a process, the candidate version, the period, the runs."""

    process_id: str
    version: int
    start: datetime
    end: datetime
    runs: int = 5
    seed: int = 1
    staffing: dict | None = None


def router_for(runtime: Runtime, session: Session, model: Model, version: int) -> Router:
    """Return a router on a version of the model's process, with the runtime's engine."""
    info = runtime.versions.get(session, _version_id(session, model.process_id, version))
    engine = SimulationEngine(runtime.script_engine, model.answers, model.reads)
    return Router(info.spec, info.subprocess_specs, engine, model.samples)


def _version_id(session: Session, process_id: str, version: int) -> int:
    """Return the row id of a saved version, deployed or awaiting approval."""
    found = session.scalar(
        select(ProcessVersion.id).where(
            ProcessVersion.process_id == process_id, ProcessVersion.version == version
        )
    )
    if found is None:
        raise refused("version", f"{process_id} has no version {version}")
    return found


def compare(
    runtime: Runtime,
    session: Session,
    request: Request,
    progress: Callable[[int], None] = lambda _n: None,
) -> dict:
    """Simulate the version that ran in the period and the candidate; return both summaries."""
    model = learn(session, request.process_id, request.start, request.end, request.seed)
    if not model.arrivals:
        raise refused("from", "no application of this process started in the period")
    staffing = merged(model.staffing, request.staffing)
    term = timedelta(
        **TimerEventDefinition.parse_iso_duration(
            str(runtime.setting("service_term") or DEFAULT_TERM)
        )
    ).total_seconds()
    summaries, ran = {}, []
    for name, version in (("current", model.version), ("candidate", request.version)):
        router = router_for(runtime, session, model, version)
        runs = []
        for n in range(request.runs):
            runs.append(simulate(model, router, staffing, request.seed + n))
            progress(1)
        summaries[name] = summarise(runs, term) | {
            "version": version,
            "engine_runs": router.engine_runs,
        }
        ran = ran or runs
    return {
        "process_id": request.process_id,
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "runs": request.runs,
        "term_seconds": term,
        "applications": len(model.arrivals),
        "observed": observed(model, term),
        "backtest": backtest(model, ran, term),
        "model": model.as_json(),
        **summaries,
    }


def headline(
    runs: list[RunResult], term: float, cutoff: float | None = None
) -> tuple[list[float], list[float]]:
    """Return each run's share within the term and p90 lead, of the cases ended by `cutoff`."""
    shares, p90s = [], []
    for r in runs:
        leads = sorted(lead for *_k, lead, end in r.leads if cutoff is None or end <= cutoff)
        shares.append(sum(lead <= term for lead in leads) / max(len(leads), 1))
        p90s.append(percentile(leads, 90))
    return shares, p90s


def backtest(model: Model, runs: list[RunResult], term: float) -> dict:
    """Return the period as it happened beside its simulation with the version that ran.

    The simulated p90 is that of every run's applications pooled, with the spread of the runs'
    own p90s as its interval. Both count the applications that had ended when the log was last
    written to: one still
    open then has no lead time in the log, and leaving it in the simulation only would weigh
    the slow ones more there. Each figure is within 10% of what happened, or it is not.
    """
    happened = observed(model, term)
    shares, p90s = headline(runs, term, model.cutoff)
    simulated = {"share_within_term": interval(shares), "lead_p90": interval(p90s)}
    # The p90 of all runs' applications together: a month's p90 can sit on the edge of a
    # step (the consent window's hour), where the mean of each run's p90 is half on each side.
    pooled = sorted(lead for r in runs for *_k, lead, end in r.leads if end <= model.cutoff)
    simulated["lead_p90"]["mean"] = round(percentile(pooled, 90), 4)
    return {
        "version": model.version,
        "observed": happened,
        "simulated": simulated,
        "within_10_percent": {
            key: abs(simulated[key]["mean"] - happened[key]) <= 0.1 * happened[key]
            for key in happened
        },
    }


def observed(model: Model, term: float) -> dict:
    """Return the period's share within the term and lead time p90, as the log shows them."""
    leads = sorted(lead for _channel, lead in model.observed)
    return {
        "share_within_term": sum(lead <= term for lead in leads) / len(leads) if leads else 0.0,
        "lead_p90": percentile(leads, 90),
    }


def summarise(runs: list[RunResult], term: float) -> dict:
    """Return the means over runs, with 95% confidence intervals on the headline figures."""
    shares, p90s = headline(runs, term)
    groups: dict[str, list[float]] = {}
    for r in runs:
        for channel, kind, lead, _end in r.leads:
            groups.setdefault(f"{channel}|{kind}", []).append(lead)
    waits: dict[str, list[float]] = {}
    for r in runs:
        for bpmn_id, values in r.waits.items():
            waits.setdefault(bpmn_id, []).extend(values)
    utilisation, by_hour = {}, {}
    for pool in runs[0].busy:
        busy = [sum(r.busy[pool][h] for r in runs) for h in range(HOURS_PER_WEEK)]
        staffed = [sum(r.staffed[pool][h] for r in runs) for h in range(HOURS_PER_WEEK)]
        utilisation[pool] = [
            round(b / s, 3) if s else None for b, s in zip(busy, staffed, strict=True)
        ]
        by_hour[pool] = [_ratio(sum(busy[h::24]), sum(staffed[h::24])) for h in range(24)]
    pool_waits: dict[str, list[float]] = {}
    for r in runs:
        for pool, values in r.pool_waits.items():
            pool_waits.setdefault(pool, []).extend(values)
    outcomes: dict[str, float] = {}
    for r in runs:
        total = sum(r.outcomes.values()) or 1
        for name, n in r.outcomes.items():
            outcomes[name] = outcomes.get(name, 0.0) + n / total / len(runs)
    return {
        "share_within_term": interval(shares),
        "lead_p90": interval(p90s),
        "lead_times": {key: _lead(sorted(values)) for key, values in sorted(groups.items())},
        "queue_waits": {key: _lead(sorted(values)) for key, values in sorted(waits.items())},
        "utilisation": utilisation,
        "utilisation_by_hour": by_hour,
        "pool_waits": {key: _lead(sorted(values)) for key, values in sorted(pool_waits.items())},
        "timers_fired": {
            name: sum(r.timers[name] for r in runs) / len(runs)
            for name in sorted(set().union(*(r.timers for r in runs)))
        },
        "outcomes": dict(sorted(outcomes.items())),
        "incidents": {
            name: sum(r.incidents[name] for r in runs) / len(runs)
            for name in sorted(set().union(*(r.incidents for r in runs)))
        },
    }


def _ratio(busy: float, staffed: float) -> float | None:
    """Return busy over staffed clerk time, None when nobody was staffed."""
    return round(busy / staffed, 3) if staffed else None


def _lead(ordered: list[float]) -> dict[str, float]:
    """Return the count and p50, p90, p99 of sorted seconds."""
    return {
        "count": len(ordered),
        **{f"p{p}": round(percentile(ordered, p), 1) for p in (50, 90, 99)},
    }


def interval(values: list[float]) -> dict[str, float]:
    """Return the mean of some runs' figures and its 95% confidence half-width."""
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return {"mean": round(mean, 4), "ci95": round(half, 4)}


def text_table(result: dict) -> str:
    """Return the side-by-side comparison as plain text lines."""
    current, candidate = result["current"], result["candidate"]

    def figure(summary: dict, key: str, scale: float = 1.0) -> str:
        value = summary[key]
        return f"{value['mean'] * scale:.1f} ± {value['ci95'] * scale:.1f}"

    rows = [
        ("", f"version {current['version']}", f"version {candidate['version']}"),
        (
            "within term, %",
            figure(current, "share_within_term", 100),
            figure(candidate, "share_within_term", 100),
        ),
        (
            "lead p90, min",
            figure(current, "lead_p90", 1 / 60),
            figure(candidate, "lead_p90", 1 / 60),
        ),
    ]
    for key in sorted(set(current["timers_fired"]) | set(candidate["timers_fired"])):
        a, b = current["timers_fired"].get(key, 0.0), candidate["timers_fired"].get(key, 0.0)
        rows.append((f"timer {key} fired", f"{a:.1f}", f"{b:.1f}"))
    for key in sorted(set(current["incidents"]) | set(candidate["incidents"])):
        a, b = current["incidents"].get(key, 0.0), candidate["incidents"].get(key, 0.0)
        rows.append((f"incidents {key}", f"{a:.1f}", f"{b:.1f}"))
    for key in sorted(set(current["lead_times"]) | set(candidate["lead_times"])):
        a, b = current["lead_times"].get(key, {}), candidate["lead_times"].get(key, {})
        rows.append((f"lead p50/p90/p99 {key}, min", _ps(a), _ps(b)))
    for key in sorted(set(current["queue_waits"]) | set(candidate["queue_waits"])):
        a, b = current["queue_waits"].get(key, {}), candidate["queue_waits"].get(key, {})
        rows.append((f"queue {key}, min", _ps(a), _ps(b)))
    for key in sorted(set(current["pool_waits"]) | set(candidate["pool_waits"])):
        a, b = current["pool_waits"].get(key, {}), candidate["pool_waits"].get(key, {})
        rows.append((f"queue at {key}, min", _ps(a), _ps(b)))
    width = max(len(r[0]) for r in rows)
    observed = result["observed"]
    lines = [
        f"{result['process_id']}: {result['applications']} applications"
        f" {result['from']} to {result['to']}, {result['runs']} runs each",
        f"observed: {observed['share_within_term'] * 100:.1f}% within term,"
        f" lead p90 {observed['lead_p90'] / 60:.1f} min",
    ]
    lines += [f"{a:<{width}}  {b:>22}  {c:>22}" for a, b, c in rows]
    lines += utilisation_lines(current, candidate)
    return "\n".join([*lines, *backtest_lines(result["backtest"]), *latency_lines(result["model"])])


def utilisation_lines(current: dict, candidate: dict) -> list[str]:
    """Return each pool's clerk utilisation by local hour of the day (over the week), in %,
    of both versions: the hours someone was staffed in either."""
    lines = ["clerk utilisation % by local hour (Asia/Almaty), version that ran / candidate:"]
    for pool in sorted(set(current["utilisation_by_hour"]) | set(candidate["utilisation_by_hour"])):
        a = current["utilisation_by_hour"].get(pool, [None] * 24)
        b = candidate["utilisation_by_hour"].get(pool, [None] * 24)
        hours = [h for h in range(24) if a[h] is not None or b[h] is not None]
        cells = [f"{h:02d}h {_percent(a[h])}/{_percent(b[h])}" for h in hours]
        lines.append(f"  {pool}: {'  '.join(cells) or 'never staffed'}")
    return lines


def _percent(value: float | None) -> str:
    """Return a ratio as a whole percentage, or a dash."""
    return "-" if value is None else f"{value * 100:.0f}"


def backtest_lines(test: dict) -> list[str]:
    """Return the back-test as plain text lines: observed, simulated, within 10%."""
    seen, simulated, close = test["observed"], test["simulated"], test["within_10_percent"]
    share, p90 = simulated["share_within_term"], simulated["lead_p90"]
    return [
        f"back-test, version {test['version']} that ran"
        " (applications ended when the log was read):",
        f"  within term: observed {seen['share_within_term'] * 100:.1f}%,"
        f" simulated {share['mean'] * 100:.1f} ± {share['ci95'] * 100:.1f}%,"
        f" {'within' if close['share_within_term'] else 'NOT within'} 10%",
        f"  lead p90: observed {seen['lead_p90'] / 60:.1f} min,"
        f" simulated {p90['mean'] / 60:.1f} ± {p90['ci95'] / 60:.1f} min,"
        f" {'within' if close['lead_p90'] else 'NOT within'} 10%",
    ]


def latency_lines(model: dict) -> list[str]:
    """Return each service task's learned call latency as plain text lines, saying where the
    log timed none of its calls (the simulation then takes them as instant)."""
    lines = ["registry latency learned from the log, ms:"] if model["services"] else []
    for bpmn_id, service in model["services"].items():
        latency, calls = service["latency_ms"], service["calls"]
        if latency["count"]:
            lines.append(
                f"  {bpmn_id}: p50 {latency['p50']:.1f}, p90 {latency['p90']:.1f},"
                f" p99 {latency['p99']:.1f} ({latency['count']} of {calls} calls timed)"
            )
        else:
            lines.append(
                f"  {bpmn_id}: no call timed in the log (0 of {calls} calls): taken as zero"
            )
    return lines


def _ps(figures: dict) -> str:
    """Return p50/p90/p99 minutes of a figures dict, or a dash."""
    if not figures:
        return "-"
    return "/".join(f"{figures[p] / 60:.1f}" for p in ("p50", "p90", "p99"))
