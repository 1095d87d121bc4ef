"""A known history of the review process, run through the real runtime on a controllable clock.

Forty applications, one an hour on weekday mornings of one week, so no two overlap: each is
checked by one clerk and, when its documents are in order, approved by one supervisor.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import simulation as bench
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.settings import SUMMARY_FIELDS

REVIEW = Path(__file__).parents[1] / "analytics" / "diagrams" / "review.bpmn"
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)
# (minutes until claimed, minutes worked) of the check and of the approval, in turn.
CHECKS = ((2, 5), (1, 4), (3, 4), (4, 6))
APPROVALS = ((1, 3), (3, 6), (1, 2), (2, 8), (1, 1))
COUNT = 40


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> datetime:
        """Return the time the test has set."""
        return self.now


@dataclass(frozen=True)
class Known:
    """The runtime and the history's hand-known figures."""

    runtime: Runtime
    session_factory: object
    leads: tuple[float, ...]  # seconds
    checks: tuple[tuple[int, int], ...]
    refused: int


def arrival(n: int) -> datetime:
    """Return the arrival of the n-th application: 9:00 to 16:00, Monday to Friday."""
    return MONDAY + timedelta(days=n // 8, hours=9 + n % 8)


def candidate_bpmn() -> bytes:
    """Return the review diagram with a second clerk check added before the registration."""
    text = REVIEW.read_text()
    text = text.replace(
        'sourceRef="Task_Approve" targetRef="Task_Register"/>',
        'sourceRef="Task_Approve" targetRef="Task_SecondCheck"/>\n'
        '    <bpmn:userTask id="Task_SecondCheck" name="Check again">\n'
        "      <bpmn:incoming>Flow_ToRegister</bpmn:incoming>\n"
        "      <bpmn:outgoing>Flow_ToRegisterAfterCheck</bpmn:outgoing>\n"
        "    </bpmn:userTask>\n"
        '    <bpmn:sequenceFlow id="Flow_ToRegisterAfterCheck" sourceRef="Task_SecondCheck"'
        ' targetRef="Task_Register"/>',
    )
    text = text.replace(
        "<bpmn:incoming>Flow_ToRegister</bpmn:incoming>\n      <bpmn:outgoing>Flow_ToRegistered",
        "<bpmn:incoming>Flow_ToRegisterAfterCheck</bpmn:incoming>\n"
        "      <bpmn:outgoing>Flow_ToRegistered",
    )
    text = text.replace(
        "<bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef>",
        "<bpmn:flowNodeRef>Task_Check</bpmn:flowNodeRef>\n"
        "        <bpmn:flowNodeRef>Task_SecondCheck</bpmn:flowNodeRef>",
    )
    shape = (
        '<bpmndi:BPMNShape id="Task_SecondCheck_di" bpmnElement="Task_SecondCheck">'
        '<dc:Bounds x="900" y="300" width="100" height="80"/></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="Flow_ToRegisterAfterCheck_di"'
        ' bpmnElement="Flow_ToRegisterAfterCheck">'
        '<di:waypoint x="950" y="300"/><di:waypoint x="950" y="250"/></bpmndi:BPMNEdge>'
    )
    return text.replace("</bpmndi:BPMNPlane>", shape + "</bpmndi:BPMNPlane>").encode()


def work(runtime: Runtime, clock: Clock, task_id: str, timing, data: dict, actor: str):
    """Claim a task after its waiting minutes and complete it after its working minutes."""
    clock.now += timedelta(minutes=timing[0])
    runtime.claim(task_id, actor)
    clock.now += timedelta(minutes=timing[1])
    return runtime.complete(task_id, data, actor=actor)


@pytest.fixture
def known(sqlite_url):
    """Run the known history through the runtime, then deploy the candidate as version 2."""
    clock = Clock()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    session_factory = make_session_factory(engine)
    runtime = Runtime(
        session_factory, {}, {"service_term": "PT15M"}, clock=clock, summary_fields=SUMMARY_FIELDS
    )
    runtime.deploy({"review.bpmn": REVIEW.read_bytes()})
    leads, checks, refused = [], [], 0
    for n in range(COUNT):
        clock.now = start = arrival(n)
        view = runtime.start(
            "review",
            {
                "application_number": f"A-{n:04d}",
                "channel": "online" if n % 2 else "service_centre",
                "registration_type": "permanent",
                "applicant_iin": "850314304175",
                "person_iin": "850314304175",
            },
        )
        ok = n % 5 != 2
        check = CHECKS[n % len(CHECKS)]
        checks.append(check)
        data = {"documents_ok": ok, "reason": None if ok else "documents_missing"}
        view = work(runtime, clock, view.ready_tasks[0].id, check, data, "clerk1")
        if ok:
            approval = APPROVALS[n % len(APPROVALS)]
            view = work(runtime, clock, view.ready_tasks[0].id, approval, {}, "supervisor1")
        else:
            refused += 1
        leads.append((clock.now - start).total_seconds())
    runtime.deploy({"review.bpmn": candidate_bpmn()})
    yield Known(runtime, session_factory, tuple(leads), tuple(checks), refused)
    engine.dispose()


@pytest.fixture
def registration(tmp_path, monkeypatch):
    """A month's small history of the registration: 15 owners answer, 15 never do (the bench's
    history, cut to 45 applications)."""
    monkeypatch.setattr(bench, "HISTORY", 45)
    start = bench.month_start()
    runtime, engine = bench.history(tmp_path, start)
    yield runtime, start
    engine.dispose()
