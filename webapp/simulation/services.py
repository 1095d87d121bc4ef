"""What a period's log teaches about the registries: each service task's failures, the delay
they cost, its calls' latency, the answers of writes and what each kept application read."""

from collections import Counter, defaultdict
from datetime import UTC, datetime

from webapp.runtime.calls import DURATION, without_duration


def aware(value: datetime) -> datetime:
    """Return a database time as an aware UTC time (SQLite gives naive ones)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def learn_services(model, events) -> None:
    """Learn each service task's failures and the delay they cost, its calls' latency, the
    answers of writes, and what each kept application's reads answered it.

    A task failed when an incident opened on it (the runtime's retries on their backoff, then
    an administrator, follow); the delay it cost runs from its first incident to its
    completion. One never completed in the log is `stuck`: its instance stays in error. A
    call's latency is the duration its completion recorded (`duration_ms`); completions
    written before the runtime measured calls have none, and are left out of it.
    """
    ran: dict[str, set[str]] = defaultdict(set)
    failed: dict[str, datetime] = {}
    done: dict[str, datetime] = {}
    names: dict[str, str] = {}
    latency: dict[str, list[float]] = defaultdict(list)
    kept = {instance_id: n for n, instance_id in enumerate(model.kept_ids)}
    for e in events:
        if e.task_type == "ServiceTask" and e.kind == "task_completed":
            ran[e.bpmn_id].add(e.task_id)
            done[e.task_id] = aware(e.at)
            if isinstance((e.data or {}).get(DURATION), int | float):
                latency[e.bpmn_id].append(float(e.data[DURATION]))
            answer = without_duration(e.data)
            if e.instance_id in kept and answer:
                model.reads.setdefault(kept[e.instance_id], {}).setdefault(e.bpmn_id, answer)
            if answer and len(model.answers.get(e.bpmn_id, [])) < 20:
                model.answers.setdefault(e.bpmn_id, []).append(answer)
        elif e.kind == "incident_opened" and e.task_id:
            ran[e.bpmn_id].add(e.task_id)
            failed.setdefault(e.task_id, aware(e.at))
            names[e.task_id] = e.bpmn_id
    delays: dict[str, list[float]] = defaultdict(list)
    stuck: Counter = Counter()
    for task_id, at in failed.items():
        if task_id in done:
            delays[names[task_id]].append((done[task_id] - at).total_seconds())
        else:
            stuck[names[task_id]] += 1
    model.services = {
        bpmn_id: {
            "calls": len(tasks),
            "failures": len(delays[bpmn_id]) + stuck[bpmn_id],
            "failure_rate": (len(delays[bpmn_id]) + stuck[bpmn_id]) / len(tasks),
            "delays": sorted(delays[bpmn_id]),
            "stuck": stuck[bpmn_id],
            "latency_ms": sorted(latency[bpmn_id]),
        }
        for bpmn_id, tasks in sorted(ran.items())
    }
