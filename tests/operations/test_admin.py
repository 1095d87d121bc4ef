"""The administration pages: incidents, instance actions, users and history retention."""

import gzip
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, exc, select, update

from tests.operations.conftest import signed_in
from webapp.db.accounts import User
from webapp.db.base import utcnow
from webapp.db.models import Instance, InstanceEvent


def failed_instance(runtime) -> int:
    """Start an instance whose lookup times out once: it waits with an open incident."""
    view = runtime.start("tasks", {})
    [task] = view.ready_tasks
    return runtime.complete(task.id, {"who": "flaky"}, actor="clerk").id


def test_incidents_list_open_first_and_retry_completes_the_instance(ops_app, ops_runtime):
    instance_id = failed_instance(ops_runtime)
    [incident] = ops_runtime.instance(instance_id).incidents
    client, token = signed_in(ops_app, "admin")
    page = client.get("/admin/").get_data(as_text=True)
    assert "did not answer" in page and "Traceback" in page
    answer = client.post(f"/admin/incidents/{incident.id}/retry", data={"csrf_token": token})
    assert answer.status_code == 302
    view = ops_runtime.instance(instance_id)
    assert view.status == "completed" and [i.status for i in view.incidents] == ["resolved"]


def test_resolve_closes_an_incident_without_calling_the_registry(ops_app, ops_runtime, registry):
    instance_id = failed_instance(ops_runtime)
    [incident] = ops_runtime.instance(instance_id).incidents
    client, token = signed_in(ops_app, "admin")
    client.post(f"/admin/incidents/{incident.id}/resolve", data={"csrf_token": token})
    assert [i.status for i in ops_runtime.instance(instance_id).incidents] == ["resolved"]
    assert registry.calls == ["flaky"]


def test_suspend_resume_terminate_each_leave_an_audit_event_by_the_administrator(
    ops_app, ops_runtime
):
    instance_id = ops_runtime.start("tasks", {}).id
    client, token = signed_in(ops_app, "admin")
    assert str(instance_id) in client.get(f"/admin/instances?id={instance_id}").get_data(True)
    for action in ("suspend", "resume", "terminate"):
        client.post(f"/admin/instances/{instance_id}/{action}", data={"csrf_token": token})
    view = ops_runtime.instance(instance_id)
    assert view.status == "terminated"
    kinds = [(e.kind, e.actor) for e in view.events if e.kind.startswith("instance_")]
    assert kinds[-3:] == [
        ("instance_suspended", "admin"),
        ("instance_resumed", "admin"),
        ("instance_terminated", "admin"),
    ]


def test_a_clerk_may_not_open_administration(ops_app, ops_runtime):
    instance_id = ops_runtime.start("tasks", {}).id
    client, token = signed_in(ops_app, "clerk")
    assert client.get("/admin/").status_code == 403
    answer = client.post(f"/admin/instances/{instance_id}/terminate", data={"csrf_token": token})
    assert answer.status_code == 403
    assert ops_runtime.instance(instance_id).status != "terminated"


def test_administrator_adds_a_user_changes_roles_and_issues_a_token(ops_app, ops_runtime):
    client, token = signed_in(ops_app, "admin")
    client.post(
        "/admin/users",
        data={"username": "aliya", "password": "long enough password", "roles": ["clerk"],
              "csrf_token": token},
    )  # fmt: skip
    client.post("/admin/users/aliya/roles", data={"roles": ["supervisor"], "csrf_token": token})
    page = client.post("/admin/users/aliya/token", data={"csrf_token": token}).get_data(True)
    assert "shown once" in page
    with ops_runtime.session_factory() as session:
        user = session.scalar(select(User).where(User.username == "aliya"))
        assert user.roles == {"supervisor"}
    bearer = page.split('<code class="token">')[1].split("</code>")[0]
    answer = ops_app.test_client().get(
        "/api/v1/tasks", headers={"Authorization": f"Bearer {bearer}"}
    )
    assert answer.status_code == 200


def age(runtime, instance_id: int, days: int) -> None:
    """Make an ended instance look as if it ended `days` ago."""
    with runtime.session_factory.begin() as session:
        session.execute(
            update(Instance)
            .where(Instance.id == instance_id)
            .values(completed_at=utcnow() - timedelta(days=days))
        )


def test_retention_archives_old_ended_instances_and_keeps_the_rest(ops_app, ops_runtime, tmp_path):
    old = failed_instance(ops_runtime)
    ops_runtime.retry_incident(ops_runtime.instance(old).incidents[0].id, "admin")
    recent = ops_runtime.start("tasks", {}).id
    ops_runtime.terminate(recent, "admin")
    running = ops_runtime.start("tasks", {}).id
    age(ops_runtime, old, 40)
    age(ops_runtime, recent, 5)
    client, token = signed_in(ops_app, "admin")
    assert "waiting to be archived: 1" in client.get("/admin/retention").get_data(True)
    client.post("/admin/retention", data={"csrf_token": token})
    [archive_file] = (tmp_path / "archives").iterdir()
    with gzip.open(archive_file, "rt") as file:
        [document] = [json.loads(line) for line in file]
    assert document["instance"]["id"] == old
    assert {e["kind"] for e in document["instance_event"]} >= {"instance_started"}
    assert document["incident"][0]["status"] == "resolved"
    with ops_runtime.session_factory() as session:
        assert session.scalars(select(Instance.id).order_by(Instance.id)).all() == [
            recent,
            running,
        ]
        assert not session.scalars(
            select(InstanceEvent.id).where(InstanceEvent.instance_id == old)
        ).all()


def test_audit_events_refuse_update_and_delete_on_postgresql(database_url, ops_runtime):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no triggers of this kind")
    ops_runtime.start("tasks", {})
    for statement in (
        update(InstanceEvent).values(actor="someone else"),
        delete(InstanceEvent),
    ):
        with (
            pytest.raises(exc.DBAPIError, match="append-only"),
            ops_runtime.session_factory.begin() as session,
        ):
            session.execute(statement)
    with ops_runtime.session_factory() as session:
        assert session.scalars(select(InstanceEvent.actor)).all()
