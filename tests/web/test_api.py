"""The JSON API: bearer tokens, roles, CSRF for cookie calls, and answers that match OpenAPI."""

import json
from pathlib import Path

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from tests.web.conftest import OWNER_IIN, application, sign_in, signed_start

SPEC = OpenAPI.from_dict(json.loads(Path("webapp/web/openapi.json").read_text(encoding="utf-8")))
ROUTES = [
    ("get", "/api/v1/tasks", None),
    ("post", "/api/v1/tasks/{task}/claim", None),
    ("post", "/api/v1/tasks/{task}/unclaim", None),
    ("post", "/api/v1/tasks/{task}/complete", {"data": {"documents_ok": True}}),
    ("post", "/api/v1/instances", {"process_id": "residence_registration", "data": {}}),
    ("get", "/api/v1/instances/{instance}", None),
    ("post", "/api/v1/messages", {"name": "consent", "correlation": {}}),
]
REFUSED = {
    "/api/v1/tasks": ("analyst", "administrator", "process_owner"),
    "/api/v1/tasks/{task}/claim": ("analyst", "administrator", "process_owner"),
    "/api/v1/tasks/{task}/unclaim": ("analyst", "administrator", "process_owner"),
    "/api/v1/tasks/{task}/complete": ("analyst", "administrator", "process_owner"),
    "/api/v1/instances": ("analyst", "applicant"),
    "/api/v1/instances/{instance}": ("applicant",),
    "/api/v1/messages": ("clerk", "supervisor", "analyst", "applicant"),
}


def checked(response, method, url, body=None):
    """Validate the response against the OpenAPI document and return it."""
    request = Request(EnvironBuilder(method=method.upper(), path=url, json=body).get_environ())
    SPEC.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
    return response


@pytest.fixture
def task_id(start_decision):
    return start_decision()


@pytest.fixture
def call(client, token_for, task_id, runtime):
    """Return a function that calls the API as a user with a bearer token."""
    tokens = {}

    def request(user, method, path, body=None):
        tokens.setdefault(user, token_for(user))
        instance_id = runtime.task(task_id).instance_id
        url = path.format(task=task_id, instance=instance_id)
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        response = getattr(client, method)(url, json=body, headers=headers)
        return checked(response, method, url, body)

    return request


@pytest.mark.parametrize(
    ("method", "path", "body", "role"),
    [(m, p, b, role) for m, p, b in ROUTES for role in REFUSED[p]],
)
def test_api_routes_refuse_roles_without_the_right(call, method, path, body, role):
    response = call(role, method, path, body)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_api_routes_need_authentication(client, task_id, method, path, body):
    url = path.format(task=task_id, instance=1)
    response = checked(getattr(client, method)(url, json=body), method, url, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = getattr(client, method)(url, json=body, headers={"Authorization": "Bearer wrong"})
    assert checked(bad, method, url, body).status_code == 401


def test_clerk_lists_claims_and_completes_through_the_api(call):
    queue = call("clerk", "get", "/api/v1/tasks?tab=queue").get_json()
    assert len(queue["tasks"]) == 1 and queue["next"] is None
    claimed = call("clerk", "post", "/api/v1/tasks/{task}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["claimed_by"] == "clerk"
    mine = call("clerk", "get", "/api/v1/tasks").get_json()["tasks"]
    assert mine[0]["state"] == "claimed"
    done = call("clerk", "post", "/api/v1/tasks/{task}/complete", {"data": {"documents_ok": True}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"


def test_invalid_data_is_refused_with_field_errors(call):
    call("clerk", "post", "/api/v1/tasks/{task}/claim")
    response = call("clerk", "post", "/api/v1/tasks/{task}/complete", {"data": {"pages": "x"}})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid_data" and set(body["errors"]) == {"documents_ok", "pages"}


def test_completing_someone_elses_task_is_a_conflict(call):
    call("clerk2", "post", "/api/v1/tasks/{task}/claim")
    response = call("clerk", "post", "/api/v1/tasks/{task}/complete", {"data": {}})
    assert response.status_code == 409 and response.get_json()["error"] == "conflict"
    assert call("clerk", "post", "/api/v1/tasks/{task}/claim").status_code == 409


def test_task_list_pages_with_a_cursor(call, start_decision):
    for _ in range(4):
        start_decision()
    first = call("clerk", "get", "/api/v1/tasks?tab=queue&limit=3").get_json()
    assert len(first["tasks"]) == 3 and first["next"]
    rest = call("clerk", "get", f"/api/v1/tasks?tab=queue&limit=3&after={first['next']}")
    ids = [t["id"] for t in first["tasks"] + rest.get_json()["tasks"]]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.parametrize("query", ["tab=everything", "after=nonsense", "limit=many", "tab=all"])
def test_bad_list_queries_are_refused(call, query):
    response = call("clerk", "get", f"/api/v1/tasks?{query}")
    assert response.status_code == (403 if query == "tab=all" else 400)


def test_start_show_and_message_an_instance(call, runtime, signer):
    owner = {"applicant_iin": OWNER_IIN, "person_iin": OWNER_IIN}
    document = application("B-0001", channel="online", **owner)
    document = signed_start(runtime, signer, "residence_registration", document)
    started = call(
        "clerk",
        "post",
        "/api/v1/instances",
        {"process_id": "residence_registration", "data": document},
    )
    assert started.status_code == 201
    instance = started.get_json()
    assert (instance["status"], instance["business_key"]) == ("waiting", "B-0001")
    shown = call("analyst", "get", f"/api/v1/instances/{instance['id']}").get_json()
    assert shown["data"]["channel"] == "online"
    assert [t["bpmn_id"] for t in shown["ready_tasks"]] == ["Task_GiveConsent"]
    # The registration process waits for no message: one sent to it finds no instance.
    unheard = call(
        "administrator",
        "post",
        "/api/v1/messages",
        {"name": "consent", "payload": {}, "correlation": {"application_number": "B-0001"}},
    )
    assert unheard.status_code == 404 and unheard.get_json()["error"] == "not_found"
    missing = call("administrator", "post", "/api/v1/messages", {"name": "consent"})
    assert missing.status_code == 404


def test_unknown_process_and_instance_are_not_found(call):
    response = call("clerk", "post", "/api/v1/instances", {"process_id": "nope"})
    assert response.status_code == 404
    assert call("clerk", "get", "/api/v1/instances/999").status_code == 404


def test_malformed_bodies_are_bad_requests(call):
    assert call("clerk", "post", "/api/v1/instances", None).status_code == 400
    assert call("clerk", "post", "/api/v1/instances", {"process_id": 5}).status_code == 400


def test_cookie_calls_that_change_things_need_the_csrf_header(client, task_id):
    token = sign_in(client, "clerk")
    assert client.get("/api/v1/tasks?tab=queue").status_code == 200
    refused = client.post(f"/api/v1/tasks/{task_id}/claim")
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf_failed"
    accepted = client.post(f"/api/v1/tasks/{task_id}/claim", headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def test_bearer_calls_need_no_csrf_token_and_set_no_cookie(call):
    response = call("clerk", "post", "/api/v1/tasks/{task}/claim")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_openapi_document_is_published_and_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    OpenAPI.from_dict(document).check_spec()


def test_a_task_act_the_step_refuses_is_answered_as_a_check_before_it_would(
    client, token_for, task_id, runtime, call
):
    role_refusal = call("analyst", "post", "/api/v1/tasks/{task}/claim").get_json()
    headers = {"Authorization": f"Bearer {token_for('applicant')}"}
    before = runtime.task(task_id)
    # The applicant holds a working role but not the task's: the step refuses, whatever else
    # is wrong with the call, with the answer a role refusal gets.
    for path, body in [
        ("claim", None),
        ("unclaim", None),
        ("complete", {"data": {"documents_ok": True}}),
        ("complete", {"data": []}),
        ("complete", [1]),
    ]:
        answer = client.post(f"/api/v1/tasks/{task_id}/{path}", json=body, headers=headers)
        assert (answer.status_code, answer.get_json()) == (403, role_refusal), (path, body)
    assert runtime.task(task_id) == before
    clerk = {"Authorization": f"Bearer {token_for('clerk')}"}
    unknown = "/api/v1/tasks/4b1d3d3e-0000-0000-0000-000000000000/complete"
    for body in ({"data": {}}, {"data": []}):
        answer = client.post(unknown, json=body, headers=clerk)
        assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
        assert answer.get_json()["message"] == "There is nothing at this address."
    refused = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": []}, headers=clerk)
    assert refused.status_code == 400 and "data must be a JSON object" in refused.text
