"""The step machinery on a real database: deploy, start, complete, errors, retries, timers."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.db.models import Instance, InstanceEvent, ProcessVersion
from webapp.runtime.errors import Conflict, Forbidden, InvalidData, InvalidDiagram, NotFound

from .conftest import bundle

SMOKE = ("smoke.bpmn", "review.schema.json")


def later(**delta) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def kinds(runtime, instance_id) -> list[str]:
    return [f"{e.kind}:{e.bpmn_id}" for e in runtime.instance(instance_id).events]


def test_deploying_the_same_content_again_changes_nothing(runtime, engine):
    first = runtime.deploy(bundle(*SMOKE))
    again = runtime.deploy(bundle(*SMOKE))
    assert [(d.process_id, d.version, d.created) for d in first] == [("smoke", 1, True)]
    assert [(d.process_id, d.version, d.created) for d in again] == [("smoke", 1, False)]


def test_new_content_makes_a_new_version_and_instances_keep_theirs(runtime):
    runtime.deploy(bundle(*SMOKE))
    old = runtime.start("smoke", {"count": 1, "who": "alice"})
    changed = bundle(*SMOKE)
    changed["smoke.bpmn"] = changed["smoke.bpmn"].replace(b'name="Review"', b'name="Check"')
    assert [(d.version, d.created) for d in runtime.deploy(changed)] == [(2, True)]
    new = runtime.start("smoke", {"count": 1, "who": "alice"})
    assert (old.version, new.version) == (1, 2)
    assert runtime.instance(old.id).ready_tasks[0].name == "Review"
    assert runtime.instance(new.id).ready_tasks[0].name == "Check"


def test_start_runs_until_the_user_task_and_shows_its_data(runtime):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 2, "who": "alice"})
    assert view.status == "waiting"
    assert view.data["doubled"] == 4 and view.data["items"] == [1, 2, 3]
    assert view.business_key == view.data["application_number"] == f"A-{view.id:06d}"
    (task,) = view.ready_tasks
    assert (task.bpmn_id, task.lane, task.role, task.form) == (
        "Task_Review",
        "Clerk",
        "clerk",
        "review.schema.json",
    )
    assert timedelta(minutes=14) < task.due_at - datetime.now(UTC) <= timedelta(minutes=15)


def test_invalid_form_data_is_refused_with_the_field_and_changes_nothing(runtime):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    before = len(runtime.instance(view.id).events)
    with pytest.raises(InvalidData) as refused:
        runtime.complete(view.ready_tasks[0].id, {"decision": "maybe"})
    assert "decision" in refused.value.errors
    with pytest.raises(InvalidData) as missing:
        runtime.complete(view.ready_tasks[0].id, {})
    assert missing.value.errors == {"decision": "this field is required"}
    after = runtime.instance(view.id)
    assert after.status == "waiting" and len(after.events) == before


def test_completing_the_task_runs_the_service_and_completes(runtime, registry):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    done = runtime.complete(view.ready_tasks[0].id, {"decision": "accept"}, actor="clerk1")
    assert done.status == "completed"
    assert done.data["found"] == {"key": "alice"} and done.data["decision"] == "accept"
    assert registry.calls == ["alice"]
    events = runtime.instance(view.id).events
    completion = [e for e in events if e.kind == "task_completed" and e.bpmn_id == "Task_Review"]
    assert completion[0].actor == "clerk1" and completion[0].data == {"decision": "accept"}
    assert events[-1].kind == "instance_completed"
    with pytest.raises(Conflict):
        runtime.complete(view.ready_tasks[0].id, {"decision": "accept"})


def test_a_business_error_follows_the_error_boundary_event(runtime):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "nobody"})
    done = runtime.complete(view.ready_tasks[0].id, {"decision": "accept"})
    assert done.status == "completed"
    assert done.data["error_code"] == "not_found"
    assert "task_completed:Event_Refused" in kinds(runtime, view.id)
    assert runtime.instance(view.id).incidents == ()


def test_a_technical_error_opens_an_incident_and_the_worker_retries_it(runtime, registry):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "flaky"})
    failed = runtime.complete(view.ready_tasks[0].id, {"decision": "accept"})
    assert failed.status == "error"
    (incident,) = runtime.instance(view.id).incidents
    assert incident.status == "open" and "did not answer" in incident.message
    assert runtime.run_due_jobs(now=later(seconds=1)) == 0
    assert runtime.run_due_jobs(now=later(seconds=11)) == 1
    done = runtime.instance(view.id)
    assert done.status == "completed" and done.data["found"] == {"key": "flaky"}
    assert [i.status for i in done.incidents] == ["resolved"]
    assert registry.calls == ["flaky", "flaky"]


def test_an_administrator_retry_runs_the_failed_task_at_once(runtime, registry):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "flaky"})
    runtime.complete(view.ready_tasks[0].id, {"decision": "accept"})
    (incident,) = runtime.instance(view.id).incidents
    assert runtime.retry_incident(incident.id, actor="admin").status == "completed"
    assert runtime.run_due_jobs(now=later(hours=1)) == 0


def test_a_boundary_timer_fires_when_the_worker_is_told_the_time(runtime):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    assert runtime.run_due_jobs(now=later(minutes=59)) == 0
    assert runtime.run_due_jobs(now=later(minutes=61)) == 1
    done = runtime.instance(view.id)
    assert done.status == "completed" and done.ready_tasks == ()
    assert "task_completed:Event_TimedOut" in kinds(runtime, view.id)
    assert "task_cancelled:Task_Review" in kinds(runtime, view.id)


def test_suspended_instances_refuse_work_until_resumed(runtime):
    runtime.deploy(bundle(*SMOKE))
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    assert runtime.suspend(view.id, actor="admin").status == "suspended"
    with pytest.raises(Conflict):
        runtime.complete(view.ready_tasks[0].id, {"decision": "accept"})
    assert runtime.run_due_jobs(now=later(hours=2)) == 0
    assert runtime.resume(view.id, actor="admin").status == "waiting"
    assert runtime.terminate(view.id, actor="admin").status == "terminated"
    assert runtime.ready_tasks(view.id) == []


class OneStaffUser:
    """A directory in which people are known by their names and only clerk2 takes tasks."""

    def identities(self, session, actor: str) -> frozenset[str]:
        return frozenset((actor,))

    def standing(self, session, user: str, role: str | None) -> tuple[str | None, str | None]:
        return None if user == "clerk2" else "not a staff user of the role", None

    def centre(self, session, user: str) -> str | None:
        return None


def test_claims_are_exclusive(runtime):
    runtime.directory = OneStaffUser()
    runtime.deploy(bundle(*SMOKE))
    task = runtime.start("smoke", {"count": 1, "who": "alice"}).ready_tasks[0]
    assert runtime.claim(task.id, "clerk1").claimed_by == "clerk1"
    with pytest.raises(Conflict):
        runtime.claim(task.id, "clerk2")
    with pytest.raises(Conflict):
        runtime.complete(task.id, {"decision": "accept"}, actor="clerk2")
    assert runtime.assign(task.id, "clerk2", actor="supervisor").claimed_by == "clerk2"
    assert runtime.unclaim(task.id, "clerk2").claimed_by is None


def test_a_callers_rule_refuses_the_act_on_the_task_row_and_changes_nothing(runtime):
    runtime.deploy(bundle(*SMOKE))
    task = runtime.start("smoke", {"count": 1, "who": "alice"}).ready_tasks[0]
    seen = []

    def clerks_only(row) -> bool:
        seen.append((row.assignee, row.role, row.claimed_by))
        return row.role == "clerk" and row.claimed_by in (None, "clerk1")

    def nobody(_row) -> bool:
        return False

    before = kinds(runtime, task.instance_id)
    for act in (
        lambda: runtime.claim(task.id, "clerk1", nobody),
        lambda: runtime.complete(task.id, {"decision": "accept"}, "clerk1", nobody),
    ):
        with pytest.raises(Forbidden):
            act()
    assert kinds(runtime, task.instance_id) == before
    assert runtime.task(task.id).claimed_by is None
    assert runtime.claim(task.id, "clerk1", clerks_only).claimed_by == "clerk1"
    with pytest.raises(Forbidden):
        runtime.unclaim(task.id, "clerk1", nobody)
    assert runtime.task(task.id).claimed_by == "clerk1"
    done = runtime.complete(task.id, {"decision": "accept"}, "clerk1", clerks_only)
    assert done.status == "completed"
    assert seen == [(None, "clerk", None), (None, "clerk", "clerk1")]
    with pytest.raises(NotFound):
        runtime.claim("4b1d3d3e-0000-0000-0000-000000000000", "clerk1", clerks_only)


def test_a_task_is_given_only_to_whom_the_directory_allows(runtime):
    runtime.deploy(bundle(*SMOKE))
    task = runtime.start("smoke", {"count": 1, "who": "alice"}).ready_tasks[0]
    with pytest.raises(InvalidData) as refused:
        runtime.assign(task.id, "clerk2", actor="supervisor")
    assert "no user directory" in refused.value.errors["user"]
    runtime.directory = OneStaffUser()
    with pytest.raises(InvalidData) as refused:
        runtime.assign(task.id, "applicant", actor="supervisor")
    assert refused.value.errors == {"user": "not a staff user of the role"}
    assert runtime.task(task.id).claimed_by is None


def test_unknown_things_are_not_found(runtime):
    with pytest.raises(NotFound):
        runtime.start("nothing", {})
    with pytest.raises(NotFound):
        runtime.complete("4b1d3d3e-0000-0000-0000-000000000000", {})
    with pytest.raises(NotFound):
        runtime.message("Nobody listens", {}, {"application_number": "A-1"})


def test_an_invalid_bundle_deploys_nothing(runtime, engine):
    broken = bundle(*SMOKE)
    broken["smoke.bpmn"] = broken["smoke.bpmn"].replace(b"count * 2", b"__import__('os')")
    with pytest.raises(InvalidDiagram) as refused:
        runtime.deploy(broken)
    (problem,) = refused.value.problems
    assert problem.element == "Task_Prepare" and problem.file == "smoke.bpmn" and problem.line
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ProcessVersion)) == 0
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
        assert session.scalar(select(func.count()).select_from(InstanceEvent)) == 0


def test_a_timer_that_cancels_a_subprocess_records_its_open_user_tasks_as_cancelled(runtime):
    runtime.deploy(bundle("answer_window.bpmn"))
    view = runtime.start("answer_window", {"owners": ["owner-1", "owner-2"]})
    first, second = view.ready_tasks
    runtime.complete(first.id, {}, actor=first.assignee)
    assert runtime.run_due_jobs(now=later(minutes=61)) == 1
    done = runtime.instance(view.id)
    assert done.status == "completed" and done.ready_tasks == ()
    cancelled = [e for e in done.events if e.kind == "task_cancelled" and e.task_type == "UserTask"]
    assert [(e.task_id, e.bpmn_id) for e in cancelled] == [(second.id, "Task_Answer")]
    assert runtime.task(second.id).state == "cancelled"


def test_a_back_edge_loop_too_deep_to_walk_is_an_incident_not_a_wrong_completion(runtime):
    runtime.deploy(bundle("back_edge_loop.bpmn"))
    short = runtime.start("back_edge_loop", {"count": 0, "limit": 100})
    assert short.status == "completed" and short.data["count"] == 100
    deep = runtime.instance(runtime.start("back_edge_loop", {"count": 0, "limit": 400}).id)
    assert deep.status == "error"
    assert "standard loop" in deep.incidents[0].message


def test_unquoted_timer_durations_and_unenforced_hit_policies_are_refused(runtime):
    timer = bundle("smoke.bpmn", "review.schema.json")
    timer["smoke.bpmn"] = timer["smoke.bpmn"].replace(b'"PT1H"', b"PT1H")
    with pytest.raises(InvalidDiagram, match='quote it, "PT1H"'):
        runtime.deploy(timer)
    tables = bundle("decision.bpmn", "eligibility.dmn")
    tables["eligibility.dmn"] = tables["eligibility.dmn"].replace(
        b'hitPolicy="FIRST"', b'hitPolicy="ANY"'
    )
    with pytest.raises(InvalidDiagram, match="hit policy ANY is not enforced"):
        runtime.deploy(tables)
