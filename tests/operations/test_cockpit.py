"""The administrators' cockpit over HTTP: find, repair, batch retry and terminate, real retries."""

import re

import pytest
from sqlalchemy import select

from tests.web.test_api import checked
from webapp.accounts import create_user, issue_token
from webapp.analytics.instances import InstanceFilter, filtered
from webapp.cockpit import batches
from webapp.db.base import utcnow
from webapp.db.models import InstanceEvent
from webapp.db.session import make_session_factory
from webapp.privacy import EVERYTHING
from webapp.runtime import repair, variable_edit
from webapp.runtime.engine import Runtime
from webapp.web import create_app

from .conftest import PASSWORD, REPAIR, signed_in

IIN = "850314304175"
MASKED = "8503******75"


@pytest.fixture
def cockpit_runtime(ops_engine, registry) -> Runtime:
    registry.failures_left["wrong"] = 10**6
    runtime = Runtime(
        make_session_factory(ops_engine),
        {"registry.lookup": registry.lookup},
        summary_fields=("application_number", "applicant_iin", "person_iin"),
    )
    runtime.deploy(REPAIR)
    return runtime


@pytest.fixture
def cockpit(cockpit_runtime, tmp_path):
    with cockpit_runtime.session_factory.begin() as session:
        create_user(session, "admin", PASSWORD, ["administrator"], full_name="Admin")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": cockpit_runtime,
            "SESSION_FACTORY": cockpit_runtime.session_factory,
            "ARCHIVE_FOLDER": tmp_path / "archives",
            "RATELIMIT_ENABLED": False,
        }
    )
    return app, cockpit_runtime


def application(runtime, who: str, iin: str = IIN) -> int:
    """Start an application by `iin` and complete its first task with `who` to look up."""
    view = runtime.start("repair", {"applicant_iin": iin, "person_iin": iin})
    return runtime.complete(view.ready_tasks[0].id, {"who": who}, actor="clerk").id


def listed(page: str) -> list[str]:
    """Return the application numbers a list page shows, in order."""
    return re.findall(r">(A-\d{6})</a>", page)


def test_the_cockpit_finds_by_number_iin_status_incident_and_pages_by_key(cockpit):
    app, runtime = cockpit
    ok = application(runtime, "anna")
    broken = application(runtime, "wrong", iin="621102401239")
    others = [application(runtime, "anna") for _ in range(3)]
    client, _ = signed_in(app, "admin")
    key = runtime.instance(broken).business_key
    assert listed(client.get(f"/admin/instances?q={key}").text) == [key]
    by_iin = client.get("/admin/instances?q=621102401239").text
    assert listed(by_iin) == [key] and "6211******39" in by_iin
    assert listed(client.get("/admin/instances?incident=1").text) == [key]
    assert listed(client.get("/admin/instances?status=error").text) == [key]
    numbers = [runtime.instance(i).business_key for i in reversed([ok, broken, *others])]
    assert listed(client.get("/admin/instances?process=repair&version=1").text) == numbers
    answer = client.get(f"/admin/instances?q={ok}")
    assert answer.status_code == 302 and answer.location.endswith(f"/admin/instances/{ok}")


def test_the_instance_page_shows_diagram_tokens_masked_variables_and_history(cockpit):
    app, runtime = cockpit
    instance_id = application(runtime, "wrong")
    client, _ = signed_in(app, "admin")
    page = client.get(f"/admin/instances/{instance_id}").text
    assert 'id="instance-diagram"' in page and f"/analytics/instances/{instance_id}/diagram" in page
    assert "marker" in page and "Task_Lookup" in page
    assert re.search(r'name="cancel" value="[0-9a-f-]{36}"', page)
    assert MASKED in page and IIN not in page
    assert "incident_opened" in page and "the registry did not answer in time" in page


def test_a_variable_edit_from_the_page_is_typed_needs_a_reason_and_is_audited_masked(cockpit):
    app, runtime = cockpit
    instance_id = application(runtime, "wrong")
    client, token = signed_in(app, "admin")
    version = repair.repairable(runtime, instance_id).lock_version
    form = {"csrf_token": token, "name": "count", "value": '"three"', "reason": "fix",
            "version": version}  # fmt: skip
    url = f"/admin/instances/{instance_id}/variable"
    page = client.post(url, data=form, follow_redirects=True).text
    assert "value: &#39;three&#39; is not of type &#39;integer&#39;" in page
    page = client.post(url, data={**form, "value": "3", "reason": ""}, follow_redirects=True).text
    assert "reason: a reason is required" in page
    page = client.post(url, data={**form, "value": "three"}, follow_redirects=True).text
    assert "the value is not JSON" in page
    assert "count" not in runtime.instance(instance_id).data
    answer = client.post(
        f"/admin/instances/{instance_id}/variable",
        data={**form, "name": "person_iin", "value": '"900701300108"',
              "reason": f"the person is {IIN}, not the applicant"},
    )  # fmt: skip
    assert answer.status_code == 302
    assert runtime.instance(instance_id).data["person_iin"] == "900701300108"
    page = client.get(f"/admin/instances/{instance_id}").text
    assert "variable_changed" in page and "9007******08" in page and MASKED in page
    assert "900701300108" not in page and IIN not in page


def test_a_modification_from_the_page_is_previewed_then_applied(cockpit):
    app, runtime = cockpit
    instance_id = application(runtime, "anna")
    [review] = repair.repairable(runtime, instance_id).tokens
    client, token = signed_in(app, "admin")
    url = f"/admin/instances/{instance_id}/modification"
    form = {"csrf_token": token, "cancel": review.task_id, "start_before": "Task_Apply",
            "start_after": "", "reason": "documents resubmitted"}  # fmt: skip
    page = client.post(url, data=form).text
    after = page[page.index("Tokens after") : page.index("Apply the modification")]
    assert "Task_Apply" in after and "Task_Review" not in after
    assert runtime.instance(instance_id).ready_tasks[0].bpmn_id == "Task_Review"
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    applied = {"apply": "1", "version": version}
    assert client.post(url, data={**form, **applied}).status_code == 302
    assert [t.bpmn_id for t in runtime.instance(instance_id).ready_tasks] == ["Task_Apply"]
    stale = client.post(url, data={**form, **applied}, follow_redirects=True)
    assert "changed since it was shown" in stale.text


def test_retry_answers_that_the_task_failed_again_with_the_new_error(cockpit):
    app, runtime = cockpit
    instance_id = application(runtime, "wrong")
    [incident] = runtime.instance(instance_id).incidents
    client, token = signed_in(app, "admin")
    page = client.post(f"/admin/incidents/{incident.id}/retry", data={"csrf_token": token},
                       follow_redirects=True).text  # fmt: skip
    assert f"Incident {incident.id}: the task failed again (attempt 2)" in page
    assert "the registry did not answer in time" in page and "done." not in page
    variable_edit.set_variable(runtime, instance_id, "who", "anna", "typo", "admin")
    page = client.post(f"/admin/incidents/{incident.id}/retry", data={"csrf_token": token},
                       follow_redirects=True).text  # fmt: skip
    assert f"Incident {incident.id}: the task ran again and the incident is closed." in page


def test_batch_retry_previews_the_count_runs_in_chunks_and_reports_each_result(cockpit, registry):
    app, runtime = cockpit
    healthy = application(runtime, "anna")
    registry.failures_left["flaky"] = 1
    recovers = application(runtime, "flaky")
    stuck = [application(runtime, "wrong") for _ in range(2)]
    client, token = signed_in(app, "admin")
    page = client.get("/admin/batch?kind=retry&process=repair").text
    assert "Instances with an open incident that the filter finds: 3." in page
    upto = int(re.search(r'data-upto="(\d+)"', page).group(1))
    later = application(runtime, "wrong")  # started after the preview: not taken
    results, after, chunks = [], 0, 0
    while after is not None:
        answer = client.post(
            "/admin/batch/chunk",
            json={"kind": "retry", "upto": upto, "after": after, "filters": {"process": "repair"}},
            headers={"X-CSRFToken": token},
        )
        assert answer.status_code == 200, answer.text
        results += answer.json["results"]
        after, chunks = answer.json["after"], chunks + 1
    assert [(r["instance_id"], r["outcome"]) for r in results] == [
        (recovers, "retried"),
        *((i, "failed_again") for i in stuck),
    ]
    assert all("attempt 2: the registry did not answer" in r["message"] for r in results[1:])
    assert runtime.instance(recovers).status == "waiting"
    assert runtime.instance(healthy).status == "waiting"
    assert [i.attempts for i in runtime.instance(later).incidents] == [1]
    assert chunks == 1  # three instances fit one chunk of ten


def test_batch_terminate_takes_the_running_instances_a_chunk_at_a_time(cockpit):
    app, runtime = cockpit
    running = [application(runtime, "anna") for _ in range(3)]
    ended = application(runtime, "anna")
    runtime.terminate(ended, "admin")
    with runtime.session_factory() as session:
        found = batches.preview(session, "terminate", InstanceFilter(), EVERYTHING)
    assert (found.count, found.upto) == (3, running[-1])
    first = batches.run_chunk(runtime, "terminate", InstanceFilter(), EVERYTHING,
                              "admin", found.upto, size=2)  # fmt: skip
    assert [r.instance_id for r in first.results] == running[:2] and first.after == running[1]
    rest = batches.run_chunk(runtime, "terminate", InstanceFilter(), EVERYTHING,
                             "admin", found.upto, first.after, size=2)  # fmt: skip
    assert [(r.instance_id, r.outcome) for r in rest.results] == [(running[2], "terminated")]
    assert rest.after is None
    assert {runtime.instance(i).status for i in running} == {"terminated"}
    with runtime.session_factory() as session:
        actors = session.scalars(
            select(InstanceEvent.actor).where(InstanceEvent.kind == "instance_terminated")
        ).all()
    assert actors == ["admin"] * 4


def test_a_batch_of_an_unknown_kind_or_with_a_bad_cursor_is_refused(cockpit):
    app, _ = cockpit
    client, token = signed_in(app, "admin")
    assert client.get("/admin/batch?kind=delete").status_code == 422
    answer = client.post("/admin/batch/chunk", json={"kind": "retry", "upto": "all"},
                         headers={"X-CSRFToken": token})  # fmt: skip
    assert answer.status_code == 422 and "upto" in answer.text


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"search": IIN}, "ix_instance_applicant_iin"),
        ({"search": IIN}, "ix_instance_person_iin"),
        ({"search": "A-000001"}, "ix_instance_business_key"),
        ({"incident": True}, "ix_incident_status_created_at"),
    ],
)
def test_the_cockpit_finds_instances_through_indexes(ops_engine, filters, index):
    query = filtered(InstanceFilter(**filters), utcnow(), EVERYTHING)
    sql = str(query.compile(ops_engine, compile_kwargs={"literal_binds": True}))
    with ops_engine.connect() as connection:
        if ops_engine.dialect.name == "sqlite":
            plan = " ".join(
                row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
        else:
            # With a few rows a scan is cheaper: ask the planner whether it can use the index.
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}"))
    assert index in plan, plan


def test_the_api_previews_applies_and_refuses_repairs_as_its_document_says(cockpit):
    app, runtime = cockpit
    instance_id = application(runtime, "wrong")
    with runtime.session_factory.begin() as session:
        headers = {"Authorization": f"Bearer {issue_token(session, 'admin')}"}
    client = app.test_client()

    def post(path: str, body: dict):
        url = f"/api/v1/instances/{instance_id}/{path}"
        return checked(client.post(url, json=body, headers=headers), "post", url, body)

    refused = post("variables", {"name": "count", "value": "three", "reason": "fix"})
    assert refused.status_code == 422 and "value" in refused.json["errors"]
    answer = post("variables", {"name": "who", "value": "anna", "reason": "mistyped"})
    assert answer.status_code == 200 and answer.json["data"]["who"] == "anna"
    [failed, _] = repair.repairable(runtime, instance_id).tokens
    body = {
        "operations": [
            {"kind": "cancel", "target": failed.task_id},
            {"kind": "start_after", "target": "Task_Lookup"},
        ],
        "reason": "looked up by phone",
    }
    preview = post("modification", {**body, "preview": True})
    assert [t["bpmn_id"] for t in preview.json["after"]] == ["Task_Review"]
    applied = post("modification", {**body, "version": preview.json["lock_version"]})
    assert applied.status_code == 200
    assert [t["bpmn_id"] for t in applied.json["ready_tasks"]] == ["Task_Review"]
    again = post("modification", {**body, "version": preview.json["lock_version"]})
    assert again.status_code == 409
    assert post("modification", {"operations": "all"}).status_code == 400
