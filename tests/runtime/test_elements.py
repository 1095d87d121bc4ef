"""Every BPMN element family runs persisted: each call is a new transaction on restored state.

Each call below also goes through a fresh `Runtime` (as each `tirkeu` command is a new process),
so the process spec is reloaded from the database too, not only the instance state.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.security.test_evaluation import with_script
from webapp.db.models import Incident, Job, MessageSubscription
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import InvalidData, InvalidDiagram, NotFound

from .conftest import bundle


class Restarting:
    """A runtime that is built anew for every call, like a command run in a new process."""

    def __init__(self, runtime: Runtime):
        self.template = runtime

    def __getattr__(self, name: str):
        template = self.template
        fresh = Runtime(template.session_factory, template.operators, template.config)
        return getattr(fresh, name)


@pytest.fixture
def rt(runtime) -> Restarting:
    return Restarting(runtime)


def later(**delta) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def ready(view) -> list[str]:
    """Return the BPMN ids of an instance's ready user tasks, sorted."""
    return sorted(task.bpmn_id for task in view.ready_tasks)


def task_of(view, bpmn_id: str) -> str:
    """Return the id of the one ready task with this BPMN id."""
    (task,) = [task for task in view.ready_tasks if task.bpmn_id == bpmn_id]
    return task.id


def done(rt, instance_id: int) -> list[str]:
    """Return the BPMN ids of the tasks completed so far, in order."""
    return [
        e.bpmn_id
        for e in rt.instance(instance_id).events
        if e.kind == "task_completed" and e.bpmn_id
    ]


def subscriptions(engine) -> list[str]:
    """Return the names of the messages instances wait for."""
    with engine.connect() as connection:
        return connection.scalars(select(MessageSubscription.message_name)).all()


def readied(rt, instance_id: int) -> list[str]:
    """Return the BPMN ids of the user tasks that became ready so far, in order."""
    return [e.bpmn_id for e in rt.instance(instance_id).events if e.kind == "task_ready"]


def cancelled(rt, instance_id: int) -> set[str]:
    """Return the BPMN ids of the tasks cancelled so far."""
    return {e.bpmn_id for e in rt.instance(instance_id).events if e.kind == "task_cancelled"}


# Tasks


def test_user_script_and_service_tasks_run_in_order(rt, registry):
    rt.deploy(bundle("tasks.bpmn", "apply.schema.json"))
    view = rt.start("tasks", {"application_number": "A-1"})
    assert view.status == "waiting" and ready(view) == ["Task_Apply"]
    assert view.ready_tasks[0].lane == "Applicant" and view.data == {"application_number": "A-1"}
    view = rt.complete(task_of(view, "Task_Apply"), {"who": "aigerim"})
    assert view.status == "completed" and view.ready_tasks == ()
    assert view.data["greeting"] == "Salem, aigerim" and view.data["letters"] == 7
    assert "printed" not in view.data  # print() works and leaves nothing behind
    assert view.data["found"] == {"key": "aigerim"} and registry.calls == ["aigerim"]
    assert done(rt, view.id) == ["Event_Start", "Task_Apply", "Task_Greet", "Task_Lookup",
                                 "Event_Found"]  # fmt: skip


def test_a_business_error_of_a_service_task_is_caught_by_its_error_boundary(rt):
    rt.deploy(bundle("tasks.bpmn", "apply.schema.json"))
    view = rt.start("tasks", {})
    view = rt.complete(task_of(view, "Task_Apply"), {"who": "nobody"})
    assert view.status == "completed" and view.incidents == ()
    assert view.data["error_code"] == "not_found"
    assert "nobody is not registered" in view.data["error_message"]
    assert "Event_Unknown" in done(rt, view.id) and "Event_Found" not in done(rt, view.id)


def test_a_technical_error_opens_an_incident_that_a_worker_retry_resolves(rt, registry, engine):
    rt.deploy(bundle("tasks.bpmn", "apply.schema.json"))
    view = rt.start("tasks", {})
    view = rt.complete(task_of(view, "Task_Apply"), {"who": "flaky"})
    assert view.status == "error" and view.ready_tasks == ()
    (incident,) = rt.instance(view.id).incidents
    assert incident.bpmn_id == "Task_Lookup" and incident.status == "open"
    assert "did not answer" in incident.message
    assert rt.run_due_jobs(now=later(seconds=1)) == 0
    assert rt.run_due_jobs(now=later(minutes=1)) == 1
    view = rt.instance(view.id)
    assert view.status == "completed" and view.data["found"] == {"key": "flaky"}
    assert [i.status for i in view.incidents] == ["resolved"]
    assert registry.calls == ["flaky", "flaky"]
    with engine.connect() as connection:
        assert connection.scalars(select(Job.id)).all() == []
        assert connection.scalars(select(Incident.status)).all() == ["resolved"]


def test_a_date_a_script_leaves_is_logged_and_shown_as_its_iso_text(rt):
    rt.deploy({"dated.bpmn": with_script("dated", "due = date(2026, 12, 5)\nkind = 'permanent'")})
    view = rt.start("dated", {"kind": "temporary"})
    assert view.status == "completed" and view.data["due"] == "2026-12-05"
    [event] = [e for e in rt.instance(view.id).events if e.bpmn_id == "Task_Script"]
    assert event.kind == "task_completed"
    assert event.data == {"due": "2026-12-05", "kind": "permanent"}


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        ({"age": 20, "category": "a", "month": 5}, "adult_ab"),  # all three rules hit: FIRST
        ({"age": 16, "category": "b", "month": 12}, "adult_ab"),
        ({"age": 20, "category": "c", "month": 5}, "adult"),
        ({"age": 20, "category": "a", "month": 13}, "adult"),
        ({"age": 15, "category": "a", "month": 1}, "minor"),
    ],
)
def test_a_business_rule_task_decides_by_feel_unary_tests_first_hit(rt, data, outcome):
    rt.deploy(bundle("decision.bpmn", "eligibility.dmn"))
    view = rt.start("decision", data)
    assert view.status == "completed" and view.data["outcome"] == outcome


def with_hit_policy(written: str) -> dict[str, bytes]:
    """Return the decision bundle with the table's hitPolicy attribute written as given."""
    files = bundle("decision.bpmn", "eligibility.dmn")
    files["eligibility.dmn"] = files["eligibility.dmn"].replace(b' hitPolicy="FIRST"', written)
    return files


def test_a_unique_table_with_two_matching_rules_opens_an_incident(rt):
    rt.deploy(with_hit_policy(b' hitPolicy="UNIQUE"'))
    assert rt.start("decision", {"age": 15, "category": "a", "month": 1}).data["outcome"] == (
        "minor"
    )
    view = rt.start("decision", {"age": 20, "category": "a", "month": 5})
    assert view.status == "error"
    (incident,) = rt.instance(view.id).incidents
    assert incident.bpmn_id == "Task_Decide"
    assert "rules 1, 2, 3 of decision table Table_Eligibility all match" in incident.message


def test_a_table_that_names_no_hit_policy_takes_the_first_match_as_spiffworkflow_does(rt):
    rt.deploy(with_hit_policy(b""))
    view = rt.start("decision", {"age": 20, "category": "a", "month": 5})
    assert view.status == "completed" and view.data["outcome"] == "adult_ab"


def test_a_failing_condition_opens_an_incident_and_the_instance_shows_error(rt):
    rt.deploy(bundle("exclusive.bpmn"))
    view = rt.start("exclusive", {"days": 1})
    assert view.status == "error" and ready(view) == []
    (incident,) = rt.instance(view.id).incidents
    assert incident.bpmn_id == "Gateway_Route" and incident.status == "open"
    assert "urgent" in incident.message


# Gateways


def test_an_exclusive_gateway_takes_the_true_condition_or_the_default(rt):
    rt.deploy(bundle("exclusive.bpmn"))
    fast = rt.start("exclusive", {"urgent": True, "days": 1})
    normal = rt.start("exclusive", {"urgent": True, "days": 5})
    assert ready(fast) == ["Task_Fast"] and ready(normal) == ["Task_Standard"]
    assert rt.complete(task_of(fast, "Task_Fast"), {}).status == "completed"
    assert rt.complete(task_of(normal, "Task_Standard"), {}).status == "completed"


def test_a_gateway_condition_that_escapes_the_restrictions_is_refused_at_deployment(rt):
    diagram = bundle("exclusive.bpmn")
    diagram["exclusive.bpmn"] = diagram["exclusive.bpmn"].replace(
        b"urgent and days &lt; 3", b"'urgent' in vars()"
    )
    with pytest.raises(InvalidDiagram) as refused:
        rt.deploy(diagram)
    (problem,) = refused.value.problems
    assert (problem.file, problem.element) == ("exclusive.bpmn", "Gateway_Route")
    assert "the name 'vars' is not allowed" in problem.message


def test_a_parallel_gateway_waits_for_both_branches(rt):
    rt.deploy(bundle("parallel.bpmn"))
    view = rt.start("parallel", {})
    assert ready(view) == ["Task_ClerkCheck", "Task_OwnerConsent"]
    view = rt.complete(task_of(view, "Task_OwnerConsent"), {"consent": True})
    assert view.status == "waiting" and ready(view) == ["Task_ClerkCheck"]
    assert view.data["consent"] is True
    view = rt.complete(task_of(view, "Task_ClerkCheck"), {"checked": True})
    assert view.status == "completed" and view.data["approved"] is True


@pytest.mark.parametrize(
    ("channels", "expected"),
    [(["sms", "mail"], ["Task_Mail", "Task_Sms"]), (["sms"], ["Task_Sms"]), ([], [])],
)
def test_an_inclusive_gateway_takes_every_true_branch_and_joins_them(rt, channels, expected):
    rt.deploy(bundle("inclusive.bpmn"))
    view = rt.start("inclusive", {"channels": channels})
    assert ready(view) == expected
    for bpmn_id in expected:
        assert view.status == "waiting"
        view = rt.complete(task_of(view, bpmn_id), {f"sent_{bpmn_id}": True})
    assert view.status == "completed"
    assert view.data.get("silent", False) is (not channels)


def test_an_event_based_gateway_follows_the_message_when_it_comes_first(rt):
    rt.deploy(bundle("event_gateway.bpmn"))
    view = rt.start("event_gateway", {"application_number": "A-7"})
    assert view.status == "waiting" and ready(view) == []
    view = rt.message("payment_received", {"amount": 500}, {"application_number": "A-7"})
    assert view.status == "completed" and view.data["outcome"] == "paid"
    assert view.data["payment"] == {"application_number": "A-7", "amount": 500}
    assert "Event_Payment" in done(rt, view.id) and "Task_Expired" not in done(rt, view.id)
    assert rt.run_due_jobs(now=later(hours=2)) == 0


def test_an_event_based_gateway_waits_for_each_of_its_messages(rt, engine):
    rt.deploy(bundle("event_gateway.bpmn"))
    view = rt.start("event_gateway", {"application_number": "A-9"})
    assert sorted(subscriptions(engine)) == ["application_withdrawn", "payment_received"]
    view = rt.message("application_withdrawn", {}, {"application_number": "A-9"})
    assert view.status == "completed" and view.data["outcome"] == "withdrawn"
    assert subscriptions(engine) == []
    with pytest.raises(NotFound):
        rt.message("payment_received", {}, {"application_number": "A-9"})


def test_an_event_based_gateway_follows_the_timer_when_it_comes_first(rt, engine):
    rt.deploy(bundle("event_gateway.bpmn"))
    view = rt.start("event_gateway", {"application_number": "A-8"})
    assert rt.run_due_jobs(now=later(minutes=30)) == 0
    assert rt.run_due_jobs(now=later(hours=2)) == 1
    view = rt.instance(view.id)
    assert view.status == "completed" and view.data["outcome"] == "expired"
    with engine.connect() as connection:
        assert connection.scalars(select(MessageSubscription.id)).all() == []
    with pytest.raises(NotFound):
        rt.message("payment_received", {}, {"application_number": "A-8"})


# Subprocesses


def test_an_embedded_subprocess_runs_its_tasks_and_returns_its_data(rt):
    rt.deploy(bundle("subprocess.bpmn"))
    view = rt.start("subprocess", {})
    assert ready(view) == ["Task_Inspect"]
    view = rt.complete(task_of(view, "Task_Inspect"), {"valid": True})
    assert view.status == "completed" and view.data["outcome"] == "accepted"
    assert view.data["valid"] is True


def test_an_error_end_event_in_a_subprocess_is_caught_on_the_subprocess_boundary(rt):
    rt.deploy(bundle("subprocess.bpmn"))
    view = rt.start("subprocess", {})
    view = rt.complete(task_of(view, "Task_Inspect"), {"valid": False})
    assert view.status == "completed" and view.data["outcome"] == "refused"
    assert view.incidents == ()
    assert "Event_CatchInvalid" in done(rt, view.id) and "Task_Accept" not in done(rt, view.id)


def test_a_call_activity_runs_a_process_of_another_file_of_the_bundle(rt):
    deployed = rt.deploy(bundle("call_parent.bpmn", "call_child.bpmn"))
    assert sorted(d.process_id for d in deployed) == ["call_child", "call_parent"]
    view = rt.start("call_parent", {})
    assert ready(view) == ["Task_ChildReview"] and view.data["count"] == 1
    assert view.ready_tasks[0].process_id == "call_parent"
    view = rt.complete(task_of(view, "Task_ChildReview"), {"note": "fine"})
    assert ready(view) == ["Task_Confirm"] and view.data["count"] == 2
    assert view.data["note"] == "fine"
    view = rt.complete(task_of(view, "Task_Confirm"), {})
    assert view.status == "completed" and view.data["count"] == 2


# Loops


def test_multi_instance_and_standard_loops_collect_their_outputs(rt):
    rt.deploy(bundle("loops.bpmn"))
    view = rt.start("loops", {"reviewers": ["owner", "clerk"], "pages": ["p1", "p2"],
                              "paid": False})  # fmt: skip
    assert ready(view) == ["Task_Approve", "Task_Approve"]
    seen = set()
    for task in view.ready_tasks:
        seen.add(rt.task_data(task.id)["reviewer"])
    assert seen == {"owner", "clerk"}
    first, second = (task.id for task in view.ready_tasks)
    reviewer = rt.task_data(first)["reviewer"]
    view = rt.complete(first, {"approval": f"yes from {reviewer}"})
    assert ready(view) == ["Task_Approve"]
    other = rt.task_data(second)["reviewer"]
    view = rt.complete(second, {"approval": f"yes from {other}"})
    assert sorted(view.data["approvals"]) == ["yes from clerk", "yes from owner"]

    for page in ("p1", "p2"):
        assert ready(view) == ["Task_Sign"]
        task_id = task_of(view, "Task_Sign")
        assert rt.task_data(task_id)["page"] == page
        view = rt.complete(task_id, {"signature": f"signed {page}"})
    assert view.data["signatures"] == ["signed p1", "signed p2"]
    assert view.data["squares"] == [0, 1, 4]

    for attempt in (1, 2):
        assert ready(view) == ["Task_Attempt"]
        view = rt.complete(task_of(view, "Task_Attempt"), {"paid": attempt == 2})
    assert view.status == "completed" and view.data["paid"] is True
    assert readied(rt, view.id).count("Task_Attempt") == 2


def test_a_completion_without_the_output_item_is_refused_and_changes_nothing(rt):
    rt.deploy(bundle("loops.bpmn"))
    view = rt.start("loops", {"reviewers": ["owner"], "pages": [], "paid": True})
    with pytest.raises(InvalidData) as refused:
        rt.complete(task_of(view, "Task_Approve"), {"note": "no approval given"})
    assert "output item" in refused.value.message
    after = rt.instance(view.id)
    assert ready(after) == ["Task_Approve"] and "note" not in after.data


def test_a_standard_loop_stops_at_its_maximum(rt):
    rt.deploy(bundle("loops.bpmn"))
    view = rt.start("loops", {"reviewers": [], "pages": [], "paid": False})
    for _ in range(3):
        assert ready(view) == ["Task_Attempt"]
        view = rt.complete(task_of(view, "Task_Attempt"), {"paid": False})
    assert view.status == "completed" and view.data["approvals"] == []
    assert readied(rt, view.id) == ["Task_Attempt"] * 3


# Timers


def test_a_non_interrupting_boundary_timer_adds_a_task_and_an_intermediate_timer_waits(rt):
    rt.deploy(bundle("timers.bpmn"))
    view = rt.start("timers", {"deadline": "P1D"})
    assert ready(view) == ["Task_Review"]
    assert rt.run_due_jobs(now=later(minutes=59)) == 0
    assert rt.run_due_jobs(now=later(hours=2)) == 1
    view = rt.instance(view.id)
    assert ready(view) == ["Task_Remind", "Task_Review"]
    view = rt.complete(task_of(view, "Task_Remind"), {})
    assert ready(view) == ["Task_Review"] and view.status == "waiting"
    view = rt.complete(task_of(view, "Task_Review"), {"reviewed": True})
    assert view.status == "waiting" and ready(view) == [] and view.data["reviewed"] is True
    assert rt.run_due_jobs(now=later(minutes=10)) == 0
    assert rt.run_due_jobs(now=later(hours=1)) == 1
    view = rt.instance(view.id)
    assert view.status == "completed" and view.data["archived"] is True
    assert "Event_Deadline" in cancelled(rt, view.id)


def test_an_interrupting_boundary_timer_cancels_the_task(rt):
    rt.deploy(bundle("timers.bpmn"))
    view = rt.start("timers", {"deadline": "PT3H"})
    assert rt.run_due_jobs(now=later(hours=4)) == 2
    view = rt.instance(view.id)
    assert ready(view) == ["Task_Escalate", "Task_Remind"]
    assert "Task_Review" in cancelled(rt, view.id)
    view = rt.complete(task_of(view, "Task_Escalate"), {})
    view = rt.complete(task_of(view, "Task_Remind"), {})
    assert view.status == "completed" and "archived" not in view.data


# Messages


def test_an_intermediate_message_reaches_only_the_instance_it_correlates_with(rt, engine):
    rt.deploy(bundle("messages.bpmn"))
    first = rt.start("messages", {"application_number": "A-1"})
    second = rt.start("messages", {"application_number": "A-2"})
    assert ready(first) == ready(second) == []
    with engine.connect() as connection:
        rows = connection.execute(
            select(MessageSubscription.instance_id, MessageSubscription.message_name,
                   MessageSubscription.correlation).order_by(MessageSubscription.instance_id)
        ).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [
        (first.id, "documents_received", {"application_number": "A-1"}),
        (second.id, "documents_received", {"application_number": "A-2"}),
    ]
    view = rt.message("documents_received", {"pages": 3}, {"application_number": "A-2"})
    assert view.id == second.id and ready(view) == ["Task_Check"]
    assert view.data["documents"] == {"application_number": "A-2", "pages": 3}
    assert ready(rt.instance(first.id)) == [] and "documents" not in rt.instance(first.id).data
    with pytest.raises(NotFound):
        rt.message("documents_received", {"pages": 1}, {"application_number": "A-9"})
    view = rt.complete(task_of(view, "Task_Check"), {})
    assert view.status == "completed" and rt.instance(first.id).status == "waiting"


def test_a_boundary_message_interrupts_the_task_it_is_attached_to(rt):
    rt.deploy(bundle("messages.bpmn"))
    view = rt.start("messages", {"application_number": "A-3"})
    view = rt.message("documents_received", {}, {"application_number": "A-3"})
    assert ready(view) == ["Task_Check"]
    view = rt.message("application_withdrawn", {"reason": "moved"}, {"application_number": "A-3"})
    assert view.status == "completed" and view.ready_tasks == ()
    assert view.data["outcome"] == "withdrawn: moved"
    assert "Task_Check" in cancelled(rt, view.id)


def test_a_message_start_event_starts_an_instance(rt):
    rt.deploy(bundle("message_start.bpmn"))
    view = rt.message("application_submitted", {"who": "aigerim"}, {})
    assert view.process_id == "message_start" and view.status == "waiting"
    assert ready(view) == ["Task_Review"] and view.data["submission"] == {"who": "aigerim"}
    again = rt.message("application_submitted", {"who": "bolat"}, {})
    assert again.id != view.id
    assert rt.complete(task_of(view, "Task_Review"), {}).status == "completed"
    with pytest.raises(NotFound):
        rt.message("nobody_listens", {}, {})


def message_jobs(engine) -> list[tuple]:
    """Return the thrown messages waiting for delivery: (instance, attempts, message name)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Job.instance_id, Job.attempts, Job.payload).where(Job.kind == "message")
        )
        return [(instance_id, attempts, payload["name"]) for instance_id, attempts, payload in rows]


def test_a_thrown_message_reaches_the_instance_waiting_for_it(rt, engine):
    rt.deploy(bundle("messages.bpmn", "sender.bpmn"))
    receiver = rt.start("messages", {"application_number": "A-5"})
    sender = rt.start("sender", {"application_number": "A-5"})
    view = rt.complete(task_of(sender, "Task_Scan"), {"pages": 4})
    assert view.status == "completed"
    received = rt.instance(receiver.id)
    assert ready(received) == ["Task_Check"]
    assert received.data["documents"] == {"application_number": "A-5", "pages": 4}
    assert message_jobs(engine) == []


def test_a_thrown_message_nobody_waits_for_yet_is_delivered_by_the_worker(rt, engine):
    rt.deploy(bundle("messages.bpmn", "sender.bpmn"))
    sender = rt.start("sender", {"application_number": "A-6"})
    # The sender ends in the step that throws: its message outlives it, in the outbox.
    assert rt.complete(task_of(sender, "Task_Scan"), {"pages": 2}).status == "completed"
    assert message_jobs(engine) == [(sender.id, 1, "documents_received")]
    receiver = rt.start("messages", {"application_number": "A-6"})
    assert rt.run_due_jobs(now=later(seconds=5)) == 0  # not due before its backoff
    assert rt.run_due_jobs(now=later(minutes=1)) == 1
    assert ready(rt.instance(receiver.id)) == ["Task_Check"]
    assert message_jobs(engine) == []
    assert rt.run_due_jobs(now=later(hours=1)) == 0


def test_a_thrown_message_is_delivered_once(rt, engine):
    rt.deploy(bundle("messages.bpmn", "sender.bpmn"))
    sender = rt.start("sender", {"application_number": "A-7"})
    rt.complete(task_of(sender, "Task_Scan"), {"pages": 1})
    receiver = rt.start("messages", {"application_number": "A-7"})
    with engine.connect() as connection:
        task_id = connection.scalar(select(Job.task_id).where(Job.kind == "message"))
    assert rt.deliver_thrown(sender.id, task_id, later()) is True
    assert rt.deliver_thrown(sender.id, task_id, later()) is False
    received = [e for e in rt.instance(receiver.id).events if e.kind == "message_received"]
    assert len(received) == 1


def test_a_thrown_message_nobody_takes_is_dropped_after_the_retries(rt, engine):
    rt.deploy(bundle("messages.bpmn", "sender.bpmn"))
    sender = rt.start("sender", {"application_number": "A-8"})
    rt.complete(task_of(sender, "Task_Scan"), {"pages": 1})
    for hours in range(1, 5):
        rt.run_due_jobs(now=later(hours=hours))
    assert message_jobs(engine) == []
    (dropped,) = [e for e in rt.instance(sender.id).events if e.kind == "message_undelivered"]
    assert dropped.data["name"] == "documents_received"
    assert dropped.data["correlation"] == {"application_number": "A-8"}
    assert dropped.data["attempts"] == 5


# Event subprocesses and terminate


def test_a_non_interrupting_timer_event_subprocess_runs_beside_the_main_flow(rt):
    rt.deploy(bundle("event_subprocess.bpmn"))
    view = rt.start("event_subprocess", {"application_number": "A-4"})
    assert ready(view) == ["Task_Work"]
    assert rt.run_due_jobs(now=later(hours=2)) == 1
    view = rt.instance(view.id)
    assert ready(view) == ["Task_Remind", "Task_Work"]
    view = rt.complete(task_of(view, "Task_Remind"), {})
    assert ready(view) == ["Task_Work"] and view.status == "waiting"
    view = rt.complete(task_of(view, "Task_Work"), {})
    assert view.status == "completed" and "outcome" not in view.data


def test_an_interrupting_message_event_subprocess_cancels_the_main_flow(rt, engine):
    rt.deploy(bundle("event_subprocess.bpmn"))
    view = rt.start("event_subprocess", {"application_number": "A-5"})
    assert subscriptions(engine) == ["application_withdrawn"]
    with pytest.raises(NotFound):
        rt.message("application_withdrawn", {}, {"application_number": "A-0"})
    view = rt.message("application_withdrawn", {"reason": "moved"}, {"application_number": "A-5"})
    assert view.status == "waiting" and ready(view) == ["Task_ConfirmWithdrawal"]
    assert view.data["outcome"] == "withdrawn"
    assert view.data["withdrawal"] == {"application_number": "A-5", "reason": "moved"}
    assert {"Task_Work", "Event_RemindStart"} <= cancelled(rt, view.id)
    assert subscriptions(engine) == [] and rt.run_due_jobs(now=later(hours=2)) == 0
    view = rt.complete(task_of(view, "Task_ConfirmWithdrawal"), {})
    assert view.status == "completed" and view.data["outcome"] == "withdrawn"


def test_a_terminate_end_event_ends_every_branch(rt):
    rt.deploy(bundle("terminate.bpmn"))
    view = rt.start("terminate", {})
    assert ready(view) == ["Task_Process", "Task_Refuse"]
    view = rt.complete(task_of(view, "Task_Refuse"), {})
    assert view.status == "completed" and view.ready_tasks == ()
    assert "Task_Process" in cancelled(rt, view.id)
    assert rt.ready_tasks(view.id) == []
