"""Untrusted input: start data, task and message data, and request bodies, at every entry.

Each refusal is checked where it enters (the API, the command, the counter, the portal, a message
that starts an instance, the process tests) and shown to create nothing: no instance row, no
event, no job, no registry call, on SQLite and PostgreSQL.
"""

import io
import json
import math
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import sandbox_store
from tests.web.conftest import (  # noqa: F401  (fixtures)
    APPLICANT_IIN,
    app,
    application,
    client,
    instance_folder,
    sessions,
    sign_in,
    signer,
    template_folder,
)
from webapp.accounts import create_user, issue_token
from webapp.bootstrap import build, bundles, initialise, read_bundle
from webapp.cli import main
from webapp.db.models import Instance, InstanceEvent, Job
from webapp.process_tests import run_bundle
from webapp.runtime.errors import InvalidData
from webapp.runtime.inputs import MAX_DATA_BYTES, loads
from webapp.runtime.scripting import ScriptEnvironment
from webapp.settings import Settings
from webapp.web import create_app

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = ROOT / "tests" / "runtime" / "diagrams"
REGISTRATION = ROOT / "processes" / "residence_registration"
PROCESS = "residence_registration"
PASSWORD = "correct horse battery"
WRONG_CHECK_DIGIT = "880517401807"
MEGABYTE = 1024 * 1024
# A message that starts an instance, whose start event's form asks for a valid IIN.
MESSAGE_FORM = {
    "type": "object",
    "required": ["iin"],
    "properties": {"iin": {"type": "string", "format": "iin"}},
}


def message_start_bundle() -> dict[str, bytes]:
    """Return the message start diagram with a form on its start event."""
    bpmn = (DIAGRAMS / "message_start.bpmn").read_text()
    form = (
        "<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property"
        ' name="formJsonSchemaFilename" value="submission.schema.json"/>'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )
    start = '<bpmn:startEvent id="Event_Submitted" name="Application submitted">'
    assert start in bpmn
    return {
        "message_start.bpmn": bpmn.replace(start, start + form).encode(),
        "submission.schema.json": json.dumps(MESSAGE_FORM).encode(),
    }


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """The settings of a product of this test's own, on each database in turn."""
    return Settings.from_env(
        instance_path=tmp_path,
        database_url=database_url,
        secret_key="input test secret",
        registry={"registry_mode": "sandbox", "registry_url": f"sqlite:///{tmp_path / 'r.db'}"},
    )


@pytest.fixture
def product(settings):
    """The product with the registration and a message start deployed, its registry calls counted.

    `product.calls` counts the operator calls by name.
    """
    store = sandbox_store(settings.registry)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    built = build(settings)
    initialise(built)
    for bundle in bundles([REGISTRATION]):
        built.runtime.deploy(read_bundle(bundle))
    built.runtime.deploy(message_start_bundle())
    calls: Counter = Counter()
    operators = built.runtime.operators
    for name, operator in list(operators.items()):
        operators[name] = counted(name, operator, calls)
    built.runtime.calls = calls
    yield built
    built.engine.dispose()


def counted(name, operator, calls: Counter):
    def call(**parameters):
        calls[name] += 1
        return operator(**parameters)

    return call


def stored(product) -> tuple[int, int, int]:
    """Return what a start could have created: instances, events and jobs."""
    with product.session_factory() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table))
            for table in (Instance, InstanceEvent, Job)
        )


@pytest.fixture
def api(product):
    """Return a test client of the web app on the product, and bearer headers by role."""
    web = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "input test secret",
            "DATABASE_URL": product.settings.database_url,
            "RUNTIME": product.runtime,
            "SESSION_FACTORY": product.session_factory,
            "RATELIMIT_ENABLED": False,
        }
    )
    with product.session_factory.begin() as session:
        create_user(session, "clerk", PASSWORD, ["clerk"], full_name="Clerk")
        create_user(session, "admin", PASSWORD, ["administrator"], full_name="Admin")
        headers = {
            role: {"Authorization": f"Bearer {issue_token(session, role)}"}
            for role in ("clerk", "admin")
        }
    return web.test_client(), headers


MISSING = object()


def document(**fields) -> dict:
    """Return a valid counter application with fields changed, or left out when MISSING."""
    changed = application("A-0001", **fields)
    return {key: value for key, value in changed.items() if value is not MISSING}


def start_body(**fields) -> dict:
    return {"process_id": PROCESS, "data": document(**fields)}


REFUSED_STARTS = {
    "wrong IIN check digit": (
        {"person_iin": WRONG_CHECK_DIGIT},
        "person_iin",
        "wrong check digit",
    ),
    "no such date": ({"application_date": "9999-99-99"}, "application_date", "'date'"),
    "dunder key": ({"__builtins__": {"len": "x"}}, "__builtins__", "reserved"),
    "underscore key deep down": ({"notes": [{"_secret": 1}]}, "notes[0]._secret", "reserved"),
    "period as text": (
        {"registration_type": "temporary", "period_months": "6"},
        "period_months",
        "not of type 'integer'",
    ),
    "missing field": ({"arc": MISSING}, "arc", "this field is required"),
    "null for a string": ({"arc": None}, "arc", "None is not of type 'string'"),
    "oversized": ({"note": "x" * (MAX_DATA_BYTES + 1)}, "data", "bytes as JSON"),
    "nested too deep": ({"nested": json.loads('{"a":' * 12 + "1" + "}" * 12)}, "nested", "deeper"),
}


# Finding 9: start data is checked against the process's start schema at every entry.


@pytest.mark.parametrize("case", REFUSED_STARTS)
def test_the_api_refuses_bad_start_data_with_the_field_and_creates_nothing(api, product, case):
    http, headers = api
    fields, field, reason = REFUSED_STARTS[case]
    before = stored(product)
    answer = http.post("/api/v1/instances", json=start_body(**fields), headers=headers["clerk"])
    assert answer.status_code == 422, answer.get_data(as_text=True)
    errors = answer.get_json()["errors"]
    assert any(key.startswith(field) and reason in text for key, text in errors.items()), errors
    assert stored(product) == before
    assert product.runtime.calls == Counter()


def test_a_valid_start_still_starts_and_asks_the_registries(api, product):
    http, headers = api
    answer = http.post("/api/v1/instances", json=start_body(), headers=headers["clerk"])
    assert answer.status_code == 201, answer.get_data(as_text=True)
    assert answer.get_json()["ready_tasks"][0]["bpmn_id"] == "Task_CheckDocuments"
    assert product.runtime.calls["population.person"] == 1


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_the_api_refuses_nan_and_infinite_numbers_as_not_json(api, product, constant):
    http, headers = api
    text = json.dumps(start_body(registration_type="temporary", period_months=1))
    text = text.replace('"period_months": 1', f'"period_months": {constant}')
    before = stored(product)
    answer = http.post(
        "/api/v1/instances", data=text, content_type="application/json", headers=headers["clerk"]
    )
    assert answer.status_code == 400
    assert constant in answer.get_json()["message"]
    assert stored(product) == before and product.runtime.calls == Counter()


def test_nan_from_a_python_caller_is_refused_by_the_runtime(product):
    data = document(registration_type="temporary", period_months=math.nan)
    before = stored(product)
    with pytest.raises(InvalidData) as refused:
        product.runtime.start(PROCESS, data)
    assert refused.value.errors == {"period_months": "nan is not a finite number"}
    assert stored(product) == before


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"process_id": "x", "data": ' + '{"a":' * 40 + "1" + "}" * 41],
    ids=["past the recursion limit", "past the depth limit"],
)
def test_a_deeply_nested_body_is_a_400_with_the_reason(api, product, body):
    http, headers = api
    before = stored(product)
    answer = http.post(
        "/api/v1/instances", data=body, content_type="application/json", headers=headers["clerk"]
    )
    assert answer.status_code == 400
    assert "nested deeper than 32 levels" in answer.get_json()["message"]
    assert stored(product) == before


def cli(product, *args: str) -> tuple[int, str, str]:
    """Run the command in-process on the product's database and instance folder."""
    env = {
        "TIRKEU_INSTANCE_PATH": str(product.settings.instance_path),
        "TIRKEU_DATABASE_URL": product.settings.database_url,
        "TIRKEU_REGISTRY_URL": product.settings.registry["registry_url"],
    }
    result = CliRunner().invoke(main, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", REFUSED_STARTS)
def test_tirkeu_start_exits_2_with_the_field_and_creates_nothing(product, case):
    fields, field, reason = REFUSED_STARTS[case]
    before = stored(product)
    data = json.dumps(document(**fields))
    code, out, err = cli(product, "start", PROCESS, "--data", data)
    assert code == 2 and out == ""
    assert f"  {field}" in err and reason in err, err
    assert stored(product) == before


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"period_months": NaN}', "NaN is not a number JSON allows"),
        ('{"period_months": 1e999}', "1e999 is too large a number"),
        ("[" * 100_000, "nested deeper than 32 levels"),
    ],
    ids=["NaN", "infinite", "deep"],
)
def test_tirkeu_start_refuses_what_is_not_json_with_exit_2(product, data, reason):
    before = stored(product)
    code, _, err = cli(product, "start", PROCESS, "--data", data)
    assert code == 2 and "--data" in err and reason in err, err
    assert stored(product) == before


def test_tirkeu_start_with_json_prints_the_fields_as_json(product):
    data = json.dumps(document(person_iin=WRONG_CHECK_DIGIT))
    code, _, err = cli(product, "start", PROCESS, "--data", data, "--json")
    assert code == 2
    assert "wrong check digit" in json.loads(err)["errors"]["person_iin"]


# Task completions and message payloads have the same limits; a message start has its form.


def test_completion_data_cannot_inject_a_dunder_key(api, product):
    http, headers = api
    started = http.post("/api/v1/instances", json=start_body(), headers=headers["clerk"])
    task_id = started.get_json()["ready_tasks"][0]["id"]
    before = stored(product)
    for data in ({"check_result": "accepted", "__builtins__": {}}, {"x": {"__class__": 1}}):
        answer = http.post(
            f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=headers["clerk"]
        )
        assert answer.status_code == 422 and "reserved" in str(answer.get_json()["errors"])
    assert stored(product) == before
    assert [t.id for t in product.runtime.ready_tasks()] == [task_id]


def test_a_message_payload_cannot_inject_a_dunder_key(api, product):
    http, headers = api
    before = stored(product)
    body = {"name": "application_submitted", "payload": {"iin": APPLICANT_IIN, "__class__": 1}}
    answer = http.post("/api/v1/messages", json=body, headers=headers["admin"])
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == {"__class__": "names starting with '_' are reserved"}
    assert stored(product) == before


def test_a_message_that_starts_an_instance_is_checked_against_its_start_form(api, product):
    http, headers = api
    before = stored(product)
    body = {"name": "application_submitted", "payload": {"iin": WRONG_CHECK_DIGIT}}
    answer = http.post("/api/v1/messages", json=body, headers=headers["admin"])
    assert answer.status_code == 422 and "wrong check digit" in answer.get_json()["errors"]["iin"]
    assert stored(product) == before
    code, _, err = cli(product, "message", "application_submitted", "--payload", "{}")
    assert code == 2 and "iin: this field is required" in err
    assert stored(product) == before
    body["payload"]["iin"] = APPLICANT_IIN
    answer = http.post("/api/v1/messages", json=body, headers=headers["admin"])
    assert answer.status_code == 200 and answer.get_json()["process_id"] == "message_start"


def test_the_scripts_never_see_data_keys_starting_with_an_underscore():
    environment = ScriptEnvironment({})
    data = {"__builtins__": {"len": lambda _value: 99}, "_getattr_": None, "word": "ab"}
    assert environment.evaluate("len(word)", data) == 2
    environment.execute("size = len(word)", data)
    assert data["size"] == 2


# The counter, the portal and the process tests reach the same check.


def test_the_counter_refuses_bad_start_data_and_creates_nothing(client, sessions):  # noqa: F811
    token = sign_in(client, "clerk")
    form = {
        "csrf_token": token,
        "applicant_iin": APPLICANT_IIN,
        "person_iin": APPLICANT_IIN,
        "applicant_type": "self",
        "arc": "0201300012740054",
        "registration_type": "temporary",
        "period_months": "NaN",
    }
    response = client.post("/tasks/counter", data=form)
    assert response.status_code == 422 and "Enter a whole number" in response.text
    response = client.post("/tasks/counter", data={**form, "period_months": "6",
                                                   "person_iin": WRONG_CHECK_DIGIT})  # fmt: skip
    assert response.status_code == 422 and "Not a valid IIN" in response.text
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0


def test_the_portal_refuses_a_wrong_iin_and_creates_nothing(client, sessions):  # noqa: F811
    token = sign_in(client, "applicant")
    form = {"csrf_token": token, "registration_type": "permanent", "for_whom": "child",
            "person_iin": WRONG_CHECK_DIGIT, "ownership": "owner",
            "arc": "0201300012740054"}  # fmt: skip
    response = client.post("/portal/apply", data=form)
    assert response.status_code == 422 and "Not a valid IIN" in response.text
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0


def test_a_process_test_case_with_bad_start_data_fails_naming_the_field():
    files = read_bundle(bundles([REGISTRATION])[0])
    cases = json.loads(files["test_residence_registration.json"])
    name, case = next(iter(cases.items()))
    [start] = [key for key in case["tasks"] if "StartEvent" in key]
    case["tasks"][start]["data"][0]["person_iin"] = WRONG_CHECK_DIGIT
    files["test_residence_registration.json"] = json.dumps({name: case}).encode()
    [result] = run_bundle(files, Settings.from_env().process_settings)
    assert not result.passed
    assert "the start data was refused; person_iin:" in result.message
    assert "wrong check digit" in result.message


# Finding 10 and 12: request bodies have a size limit, and JSON bodies a depth limit.


class UnreadBody(io.RawIOBase):
    """A request body of `length` bytes, never held in memory, that counts its reads."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length
        self.position = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.length}[whence]
        self.position = base + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        self.reads += 1
        buffer[:1] = b"x"
        return 1


def post_unread(client, path: str, length: int, content_type: str, **kwargs):  # noqa: F811
    body = UnreadBody(length)
    answer = client.post(path, input_stream=body, content_type=content_type, **kwargs)
    return answer, body


def test_an_anonymous_100_mb_login_post_is_refused_unread(client):  # noqa: F811
    answer, body = post_unread(
        client, "/login", 100 * MEGABYTE, "application/x-www-form-urlencoded"
    )
    assert answer.status_code == 413 and body.reads == 0
    assert answer.mimetype == "text/html" and "1048576 bytes" in answer.text


def test_an_oversized_api_call_is_refused_unread_in_json(api):
    http, headers = api
    answer, body = post_unread(
        http, "/api/v1/instances", 8 * MEGABYTE, "application/json", headers=headers["clerk"]
    )
    assert answer.status_code == 413 and body.reads == 0
    assert answer.get_json()["error"] == "request_too_large"


def test_the_diagram_save_takes_files_up_to_its_own_larger_limit(client):  # noqa: F811
    token = sign_in(client, "process_owner")
    save = "/processes/residence_registration/1/save/residence_registration.bpmn"
    headers = {"X-CSRFToken": token}
    xml = b"<a>" + b" " * (2 * MEGABYTE) + b"</a>"
    answer = client.post(save, data=xml, content_type="application/xml", headers=headers)
    assert answer.status_code == 422 and answer.get_json()["problems"]
    answer, body = post_unread(client, save, 5 * MEGABYTE, "application/xml", headers=headers)
    assert answer.status_code == 413 and body.reads == 0


def test_the_request_limit_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("TIRKEU_MAX_REQUEST_BYTES", "2048")
    settings = Settings.from_env(instance_path=tmp_path, database_url="sqlite://")
    web = create_app(settings)
    try:
        assert web.config["MAX_CONTENT_LENGTH"] == 2048
        answer = web.test_client().post("/login", data={"username": "x" * 4096})
        assert answer.status_code == 413
    finally:
        web.extensions["tirkeu_sessions"].kw["bind"].dispose()


def test_a_deep_body_on_a_page_route_is_refused_not_a_500(client):  # noqa: F811
    token = sign_in(client, "process_owner")
    nested = "[" * 100_000 + "]" * 100_000
    answer = client.post(
        "/processes/form-preview",
        json={"schema": nested},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 422 and "nested deeper" in answer.text


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"a":' * 32 + "1" + "}" * 32, None),
        ('{"a":' * 33 + "1" + "}" * 33, "a.a.a"),
        ("[" * 32 + "1" + "]" * 32, None),
        ("[" * 33 + "1" + "]" * 33, "[0][0][0]"),
        ("[" * 33 + "]" * 33, None),
        ("[" * 32 + "{}" + "]" * 32, None),
        ('[{"a": []}, ' + "[" * 32 + "1" + "]" * 32 + "]", "[1][0]"),
    ],
    ids=[
        "objects-32",
        "objects-33",
        "arrays-32",
        "arrays-33",
        "empty-array",
        "empty-object",
        "second-branch",
    ],
)
def test_json_is_refused_past_32_levels_naming_where(text, where):
    if where is None:
        assert json.loads(text) == loads(text)
        return
    with pytest.raises(ValueError, match="nested deeper than 32 levels at") as refused:
        loads(text)
    assert where in str(refused.value)
