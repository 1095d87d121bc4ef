"""The event-log export: XES and CSV read back by pm4py, and memory flat in the log's size."""

import csv
import io
import tracemalloc
import warnings

import pytest
from lxml import etree

from bench.analytics import generate
from webapp.analytics.export import export_csv, export_xes
from webapp.analytics.instances import InstanceFilter
from webapp.db.base import Base
from webapp.db.session import make_engine, make_session_factory

# The history: three approved (check, approve, register), three refused (check, refuse) and
# one waiting at its check. Start and end events and the gateway are routing, left out.
CASES, EVENTS, VARIANTS = 7, 3 * 5 + 3 * 3 + 1, 3
XES = "{http://www.xes-standard.org/}"


def xes_text(history, **filters) -> str:
    """Return the whole XES export of the filtered instances."""
    return "".join(export_xes(history.session_factory, InstanceFilter(**filters)))


def csv_rows(history, **filters) -> list[dict]:
    """Return the CSV export of the filtered instances as rows."""
    text = "".join(export_csv(history.session_factory, InstanceFilter(**filters)))
    return list(csv.DictReader(io.StringIO(text)))


def test_xes_has_a_trace_per_instance_named_by_its_business_key(history):
    log = etree.fromstring(xes_text(history).encode())
    traces = log.findall(f"{XES}trace")
    names = [t.find(f"{XES}string[@key='concept:name']").get("value") for t in traces]
    assert names == [f"A-{n:04d}" for n in range(1, 8)]
    first = [
        {a.get("key"): a.get("value") for a in event} for event in traces[0].findall(f"{XES}event")
    ]
    assert first[:2] == [
        {
            "concept:name": "Check documents",
            "time:timestamp": "2026-11-02T09:00:00.000+00:00",
            "lifecycle:transition": "start",
        },
        {
            "concept:name": "Check documents",
            "time:timestamp": "2026-11-02T09:07:00.000+00:00",
            "lifecycle:transition": "complete",
            "org:resource": "clerk1",
        },
    ]
    assert [e["concept:name"] for e in first[2:]] == [
        "Approve registration",
        "Approve registration",
        "Record registration",
    ]
    assert "org:resource" not in first[4]


def test_csv_has_case_activity_timestamp_lifecycle_and_resource(history):
    rows = csv_rows(history, outcome="refused")
    assert list(rows[0]) == ["case_id", "activity", "timestamp", "lifecycle", "resource"]
    assert [tuple(r.values()) for r in rows[:3]] == [
        ("A-0003", "Check documents", "2026-11-02T11:00:00.000+00:00", "start", ""),
        ("A-0003", "Check documents", "2026-11-02T11:04:00.000+00:00", "complete", "clerk1"),
        ("A-0003", "Record refusal", "2026-11-02T11:04:00.000+00:00", "complete", ""),
    ]
    assert len(rows) == 9


def test_pm4py_reads_the_xes_export_with_the_right_cases_events_and_variants(history, tmp_path):
    pm4py = pytest.importorskip("pm4py")
    path = tmp_path / "log.xes"
    path.write_text(xes_text(history))
    with warnings.catch_warnings():
        # pm4py suggests an optional faster reader it can do without.
        warnings.simplefilter("ignore", UserWarning)
        log = pm4py.read_xes(str(path))
    assert log["case:concept:name"].nunique() == CASES
    assert len(log) == EVENTS
    assert len(pm4py.get_variants(log)) == VARIANTS


def test_pm4py_reads_the_csv_export_with_the_right_cases_events_and_variants(history, tmp_path):
    pm4py = pytest.importorskip("pm4py")
    pandas = pytest.importorskip("pandas")
    path = tmp_path / "log.csv"
    path.write_text("".join(export_csv(history.session_factory)))
    frame = pm4py.format_dataframe(
        pandas.read_csv(path),
        case_id="case_id",
        activity_key="activity",
        timestamp_key="timestamp",
    )
    assert frame["case:concept:name"].nunique() == CASES
    assert len(frame) == EVENTS
    assert len(pm4py.get_variants(frame)) == VARIANTS


def peak_export_memory(tmp_path, instances: int) -> int:
    """Return the traced peak while exporting a synthetic history of `instances` as XES."""
    engine = make_engine(f"sqlite:///{tmp_path / f'log{instances}.db'}")
    Base.metadata.create_all(engine)
    generate(engine, instances)
    session_factory = make_session_factory(engine)
    tracemalloc.start()
    for _chunk in export_xes(session_factory, batch=100):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    engine.dispose()
    return peak


def test_export_memory_stays_flat_when_the_log_grows_fivefold(tmp_path):
    # Both logs are larger than one read batch: past it, memory must not grow with the log.
    small, large = peak_export_memory(tmp_path, 300), peak_export_memory(tmp_path, 1500)
    assert large < small * 1.5
