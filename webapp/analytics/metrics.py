"""The operations metrics in the Prometheus text exposition format, for `/metrics`."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Incident, Instance, Job
from webapp.runtime.metrics import LatencyHistogram

from .instances import OPEN_TASK_STATES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def label(value) -> str:
    """Return a label value escaped as the text format requires."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def gauge(name: str, help_text: str, samples: list[tuple[dict, float]]) -> list[str]:
    """Return the lines of one gauge family."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        text = ",".join(f'{k}="{label(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")
    return lines


def histogram_lines(name: str, help_text: str, histogram: LatencyHistogram) -> list[str]:
    """Return the lines of the step latency histogram, one series per operation."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for sample in histogram.samples():
        operation = f'operation="{label(sample.operation)}"'
        for bound, count in sample.buckets:
            lines.append(f'{name}_bucket{{{operation},le="{bound}"}} {count}')
        lines.append(f'{name}_bucket{{{operation},le="+Inf"}} {sample.count}')
        lines.append(f"{name}_sum{{{operation}}} {sample.total}")
        lines.append(f"{name}_count{{{operation}}} {sample.count}")
    return lines


def prometheus_text(
    session: Session, histogram: LatencyHistogram | None = None, now: datetime | None = None
) -> str:
    """Return instances by status, open and overdue tasks by role, incidents, due jobs, latency."""
    now = now or utcnow()
    statuses = session.execute(
        select(Instance.status, func.count()).group_by(Instance.status).order_by(Instance.status)
    ).all()
    open_tasks = HumanTask.state.in_(OPEN_TASK_STATES)
    by_role = session.execute(
        select(HumanTask.role, func.count(), func.count().filter(HumanTask.due_at < now))
        .where(open_tasks)
        .group_by(HumanTask.role)
        .order_by(HumanTask.role)
    ).all()
    incidents = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.status == "open")
    )
    due = session.execute(
        select(Job.kind, func.count())
        .where(Job.due_at <= now)
        .group_by(Job.kind)
        .order_by(Job.kind)
    ).all()
    lines = [
        *gauge(
            "tirkeu_instances",
            "Process instances by status.",
            [({"status": s}, n) for s, n in statuses],
        ),
        *gauge(
            "tirkeu_open_tasks",
            "Open user tasks (ready or claimed) by role.",
            [({"role": r}, n) for r, n, _ in by_role],
        ),
        *gauge(
            "tirkeu_overdue_tasks",
            "Open user tasks past their due time, by role.",
            [({"role": r}, late) for r, _, late in by_role],
        ),
        *gauge("tirkeu_open_incidents", "Incidents not yet resolved.", [({}, incidents)]),
        *gauge(
            "tirkeu_jobs_due",
            "Timers, retries and thrown messages whose time has come, by kind: a number that"
            " grows means the workers fall behind, or messages find no receiver.",
            [({"kind": k}, n) for k, n in due],
        ),
    ]
    if histogram is not None:
        lines += histogram_lines(
            "tirkeu_step_latency_seconds",
            "Wall time of one runtime step (start, complete, or any other step).",
            histogram,
        )
    return "\n".join(lines) + "\n"
