"""Fuzzing the API and the forms: no server error, and nothing stored from a refused request."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from sqlalchemy import func, select

from webapp.accounts import issue_token
from webapp.db.models import HumanTask, Instance, InstanceEvent
from webapp.web import create_app

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD = st.sampled_from(["who", "process_id", "data", "name", "payload", "correlation", "x"])


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def fuzz_app(ops_app, ops_runtime, tmp_path):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": ops_runtime,
            "SESSION_FACTORY": ops_runtime.session_factory,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


@pytest.fixture
def bearer(ops_runtime):
    with ops_runtime.session_factory.begin() as session:
        return {
            "clerk": issue_token(session, "clerk"),
            "admin": issue_token(session, "admin"),
        }


def stored(runtime) -> tuple[int, int, tuple]:
    """Return what a request could have stored: instances, events and the tasks' states."""
    with runtime.session_factory() as session:
        tasks = tuple(session.execute(select(HumanTask.id, HumanTask.state, HumanTask.claimed_by)))
        return (
            session.scalar(select(func.count()).select_from(Instance)),
            session.scalar(select(func.count()).select_from(InstanceEvent)),
            tasks,
        )


def test_fuzzed_api_bodies_never_fail_and_refusals_store_nothing(fuzz_app, ops_runtime, bearer):
    client = fuzz_app.test_client()
    task_id = ops_runtime.start("tasks", {}).ready_tasks[0].id
    paths = st.sampled_from(
        ["/api/v1/instances", f"/api/v1/tasks/{task_id}/complete", "/api/v1/messages",
         f"/api/v1/tasks/{task_id}/claim", "/api/v1/tasks/not-a-task/complete"]
    )  # fmt: skip
    body = st.one_of(JSON, st.dictionaries(FIELD, JSON, max_size=4))

    @FUZZ
    @given(path=paths, body=body, who=st.sampled_from(["clerk", "admin"]))
    def check(path, body, who):
        before = stored(ops_runtime)
        answer = client.post(path, json=body, headers={"Authorization": f"Bearer {bearer[who]}"})
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if answer.status_code >= 400:
            assert stored(ops_runtime) == before

    check()


def test_fuzzed_task_forms_never_fail_and_refusals_store_nothing(fuzz_app, ops_runtime):
    from tests.operations.conftest import PASSWORD

    client = fuzz_app.test_client()
    client.post("/login", data={"username": "clerk", "password": PASSWORD})
    task_id = ops_runtime.start("tasks", {}).ready_tasks[0].id
    ops_runtime.claim(task_id, "clerk")
    fields = st.dictionaries(
        st.sampled_from(["who", "refusal_reason", "refusal_comment", "x", "csrf_token"]),
        st.text(max_size=30),
        max_size=4,
    )

    @FUZZ
    @given(form=fields, where=st.sampled_from(["complete", "refuse"]))
    def check(form, where):
        before = stored(ops_runtime)
        answer = client.post(f"/tasks/{task_id}/{where}", data=form)
        assert answer.status_code < 500, answer.get_data(as_text=True)
        if answer.status_code >= 400:
            assert stored(ops_runtime) == before

    check()


@pytest.fixture
def api_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_call_of_its_openapi_document(case, bearer):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {bearer['admin']}"}, checks=[not_a_server_error]
    )


def test_an_instance_number_beyond_the_database_integers_is_not_found(fuzz_app, bearer):
    client = fuzz_app.test_client()
    headers = {"Authorization": f"Bearer {bearer['admin']}"}
    assert client.get("/api/v1/instances/9223372036854775808", headers=headers).status_code == 404
    client.post("/login", data={"username": "admin", "password": "correct horse battery"})
    assert client.get("/admin/instances?id=9223372036854775808").status_code == 200
