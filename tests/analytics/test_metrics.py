"""`/metrics` text: instances, open and overdue tasks, incidents and the step latency histogram."""

from datetime import timedelta

from webapp.analytics.metrics import histogram_lines, prometheus_text
from webapp.db.models import Job
from webapp.runtime.metrics import LatencyHistogram

from .conftest import NOW


def test_metrics_count_instances_tasks_and_incidents_of_the_history(session, history):
    text = prometheus_text(session, now=NOW)
    assert 'tirkeu_instances{status="completed"} 6' in text
    assert 'tirkeu_instances{status="waiting"} 1' in text
    assert 'tirkeu_open_tasks{role="clerk"} 1' in text
    assert 'tirkeu_overdue_tasks{role="clerk"} 1' in text
    assert "tirkeu_open_incidents 0" in text
    assert "# TYPE tirkeu_instances gauge" in text


def test_metrics_count_the_jobs_whose_time_has_come_by_kind(session, history):
    for minutes, kind in ((-5, "timer"), (-1, "message"), (-1, "timer"), (30, "timer")):
        session.add(
            Job(
                instance_id=history.ids[5],
                task_id=f"{kind}{minutes}",
                kind=kind,
                due_at=NOW + timedelta(minutes=minutes),
            )
        )
    session.flush()
    text = prometheus_text(session, now=NOW)
    assert 'tirkeu_jobs_due{kind="message"} 1' in text
    assert 'tirkeu_jobs_due{kind="timer"} 2' in text
    assert "# TYPE tirkeu_jobs_due gauge" in text


def test_runtime_measures_the_latency_of_every_start_and_completion(session, history):
    text = prometheus_text(session, history.runtime.step_latency, now=NOW)
    assert "# TYPE tirkeu_step_latency_seconds histogram" in text
    assert 'tirkeu_step_latency_seconds_count{operation="start"} 7' in text
    assert 'tirkeu_step_latency_seconds_count{operation="complete"} 9' in text
    assert 'tirkeu_step_latency_seconds_bucket{operation="start",le="+Inf"} 7' in text


def test_histogram_buckets_are_cumulative_and_labels_escaped():
    histogram = LatencyHistogram(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0):
        histogram.observe('say "hi"', seconds)
    (sample,) = histogram.samples()
    assert sample.buckets == ((0.1, 1), (1.0, 2))
    assert (sample.count, sample.total) == (3, 5.55)
    lines = histogram_lines("x", "help", histogram)
    assert 'x_bucket{operation="say \\"hi\\"",le="+Inf"} 3' in lines
