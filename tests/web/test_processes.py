"""The process owners' room on the real runtime: catalogue, viewer, editor, save, diff, tests."""

import html
import json
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.runtime.test_scripting import ESCAPES
from tests.web.conftest import application, sign_in
from webapp.bootstrap import bundles, product_runtime, read_bundle
from webapp.db.models import Deployment, ProcessVersion
from webapp.runtime.engine import Runtime
from webapp.web import create_app

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
FOLDER = PROCESSES / "residence_registration"
BPMN_FILE = "residence_registration.bpmn"
SETTINGS = json.loads((PROCESSES / "settings.json").read_text())
BASE = "/processes/residence_registration/1"
SCRIPT = b"<bpmn:script>service_error = None"
# The applicant registers himself at the flat he alone owns, numbered by the runtime.
COUNTER_APPLICATION = {k: v for k, v in application().items() if k != "application_number"}


def bundle() -> dict[str, bytes]:
    return read_bundle(bundles([FOLDER])[0])


@pytest.fixture
def runtime(sessions, tmp_path) -> Runtime:
    registry_url = f"sqlite:///{tmp_path / 'registries.db'}"
    store = SandboxStore(registry_url)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    operators = build_operators({"registry_mode": "sandbox", "registry_url": registry_url})
    runtime = product_runtime(sessions, operators, SETTINGS, list)
    runtime.deploy(bundle(), deployed_by="tests")
    return runtime


@pytest.fixture
def app(sessions, runtime, users):
    return create_app({"TESTING": True, "SECRET_KEY": "test secret", "DATABASE_URL": "sqlite://",
                       "RUNTIME": runtime, "SESSION_FACTORY": sessions})  # fmt: skip


def deployments(sessions) -> int:
    with sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(Deployment))


def save(client, token, content: bytes, name: str = BPMN_FILE, deploy: bool = False):
    query = "?deploy=1" if deploy else ""
    headers = {"X-CSRFToken": token, "Content-Type": "application/xml"}
    return client.post(f"{BASE}/save/{name}{query}", data=content, headers=headers)


@pytest.mark.parametrize("role", ["process_owner", "administrator"])
def test_catalogue_lists_versions_for_process_owners_and_administrators(client, role):
    sign_in(client, role)
    page = client.get("/processes/").get_data(as_text=True)
    assert "residence_registration" in page and "v1" in page and "tests" in page


@pytest.mark.parametrize("role", ["clerk", "supervisor", "analyst", "applicant"])
def test_other_roles_are_refused_the_process_pages(client, role):
    sign_in(client, role)
    for url in ("/processes/", f"{BASE}/", f"{BASE}/edit"):
        assert client.get(url).status_code == 403


def test_viewer_previews_each_user_task_form(client):
    sign_in(client, "process_owner")
    page = client.get(f"{BASE}/").get_data(as_text=True)
    assert f'data-bpmn-url="{BASE}/files/residence_registration.bpmn"' in page
    assert page.count("data-dmn-url=") == 6
    assert 'data-task="Task_CheckDocuments"' in page and "<fieldset disabled>" in page


def test_editor_offers_operators_with_parameters_and_form_files(client, runtime):
    sign_in(client, "process_owner")
    page = client.get(f"{BASE}/edit").get_data(as_text=True)
    assert "data-bpmn-editor" in page and page.count("data-dmn-editor") == 6
    assert "check_documents.schema.json" in page
    assert "population.person" in page or any(name in page for name in runtime.operators)


def test_saving_the_unchanged_diagram_validates_without_problems(client):
    token = sign_in(client, "process_owner")
    answer = save(client, token, (FOLDER / BPMN_FILE).read_bytes())
    assert answer.status_code == 200 and answer.get_json() == {"problems": []}


def test_save_and_deploy_makes_a_new_version_and_old_instances_keep_theirs(client, runtime):
    token = sign_in(client, "process_owner")
    old = runtime.start("residence_registration", application("A-1"), actor="x")
    # A change of what runs, not of a text: a text changed waits for its translations.
    bpmn = (FOLDER / BPMN_FILE).read_bytes()
    start = bpmn.index(b'<bpmn:userTask id="Task_CheckDocuments"')
    term = b"config(&quot;service_term&quot;)"
    changed = bpmn[:start] + bpmn[start:].replace(term, b"&quot;PT20M&quot;", 1)
    answer = save(client, token, changed, deploy=True)
    assert answer.status_code == 200
    [deployed] = answer.get_json()["deployed"]
    assert (deployed["version"], deployed["status"]) == (2, "pending")
    diff = client.get("/processes/residence_registration/diff?from=1&to=2").get_data(as_text=True)
    assert '"changed": ["Task_CheckDocuments"]' in html.unescape(diff)
    pending = application("A-2")
    assert runtime.start("residence_registration", pending, actor="x").version == 1
    token = sign_in(client, "administrator")
    review = client.get(deployed["review_url"]).get_data(as_text=True)
    assert "Task_CheckDocuments" in review
    approve = f"{deployed['review_url']}/approve"
    assert client.post(approve, data={"csrf_token": token}).status_code == 302
    assert runtime.instance(old.id).version == 1
    approved = application("A-3")
    assert runtime.start("residence_registration", approved, actor="x").version == 2


def test_save_without_csrf_header_is_refused(client):
    sign_in(client, "process_owner")
    answer = client.post(f"{BASE}/save/{BPMN_FILE}", data=b"<x/>")
    assert answer.status_code == 400


def problems_of(answer) -> list[str]:
    return [p["message"] for p in answer.get_json()["problems"]]


MALICIOUS = {
    "external entity": b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
    "billion laughs": b'<!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>',
    "doctype": b'<?xml version="1.0"?><!DOCTYPE html><definitions/>',
    "oversized": b"<a>" + b" " * (3 * 1024 * 1024) + b"</a>",
}  # fmt: skip


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_xml_is_refused_and_nothing_is_deployed(client, sessions, name):
    token = sign_in(client, "process_owner")
    before = deployments(sessions)
    answer = save(client, token, MALICIOUS[name], deploy=True)
    assert answer.status_code == 422 and problems_of(answer)
    assert deployments(sessions) == before


@pytest.mark.parametrize("payload", ESCAPES)
def test_script_escapes_are_refused_and_nothing_is_deployed(client, sessions, payload):
    token = sign_in(client, "process_owner")
    before = deployments(sessions)
    diagram = (
        (FOLDER / BPMN_FILE)
        .read_bytes()
        .replace(SCRIPT, b"<bpmn:script>" + escape(payload).encode() + b"\nservice_error = None")
    )
    answer = save(client, token, diagram, deploy=True)
    assert answer.status_code == 422
    assert any(p["element"] == "Task_PrepareApplication" for p in answer.get_json()["problems"])
    assert deployments(sessions) == before


def test_form_schema_outside_the_subset_is_refused_and_nothing_is_deployed(client, sessions):
    token = sign_in(client, "process_owner")
    before = deployments(sessions)
    schema = json.loads((FOLDER / "check_documents.schema.json").read_text())
    schema["$ref"] = "http://example.org/remote.json"
    answer = save(client, token, json.dumps(schema).encode(), "check_documents.schema.json", True)
    assert answer.status_code == 422 and problems_of(answer)
    assert deployments(sessions) == before


def test_form_preview_renders_fields_as_the_clerk_sees_them(client):
    token = sign_in(client, "process_owner")
    schema = {"type": "object", "properties": {"pages": {"type": "integer", "title": "Pages"}}}
    answer = client.post("/processes/form-preview", json={"schema": json.dumps(schema)},
                         headers={"X-CSRFToken": token})  # fmt: skip
    assert answer.status_code == 200 and "Pages" in answer.get_data(as_text=True)


def test_run_tests_button_runs_the_shipped_cases(client):
    token = sign_in(client, "process_owner")
    page = client.post(f"{BASE}/tests", data={"csrf_token": token}).get_data(as_text=True)
    assert "6 of 6 cases passed" in page


def test_catalogue_counts_running_instances_per_version(client, runtime, sessions):
    sign_in(client, "process_owner")
    runtime.start("residence_registration", application("A-2"), actor="x")
    with sessions.begin() as session:
        versions = select(func.count()).select_from(ProcessVersion)
        registration = ProcessVersion.process_id == "residence_registration"
        assert session.scalar(versions.where(registration)) == 1
    page = client.get("/processes/").get_data(as_text=True)
    assert '<td class="running">1</td>' in page


def renamed_check() -> dict[str, bytes]:
    """Return the registration with the clerk's check renamed, its translations following."""
    files = bundle()
    files[BPMN_FILE] = files[BPMN_FILE].replace(
        b'name="Check documents at the counter"', b'name="Check the documents"'
    )
    key = b'msgctxt "Task_CheckDocuments:name"\nmsgid "'
    for name in ("translations/kk.po", "translations/ru.po"):
        files[name] = files[name].replace(
            key + b'Check documents at the counter"', key + b'Check the documents"'
        )
    return files


def test_administrator_previews_and_moves_a_waiting_instance(client, runtime):
    waiting = runtime.start("residence_registration", COUNTER_APPLICATION, actor="clerk")
    assert [t.bpmn_id for t in waiting.ready_tasks] == ["Task_CheckDocuments"]
    runtime.deploy(renamed_check(), deployed_by="owner")
    token = sign_in(client, "administrator")
    viewer = client.get(f"{BASE}/").get_data(as_text=True)
    assert f"/processes/instances/{waiting.id}/migrate?to=2" in viewer
    preview = client.get(f"/processes/instances/{waiting.id}/migrate?to=2").get_data(as_text=True)
    assert "The move is safe" in preview and "Task_CheckDocuments" in preview
    moved = client.post(f"/processes/instances/{waiting.id}/migrate",
                        data={"to": "2", "csrf_token": token})  # fmt: skip
    assert moved.status_code == 302
    instance = runtime.instance(waiting.id)
    assert instance.version == 2
    assert [t.name for t in instance.ready_tasks] == ["Check the documents"]
    assert [e.actor for e in instance.events if e.kind == "instance_migrated"] == ["administrator"]


def test_process_owners_may_not_move_instances(client, runtime):
    waiting = runtime.start("residence_registration", COUNTER_APPLICATION, actor="clerk")
    runtime.deploy(renamed_check(), deployed_by="owner")
    token = sign_in(client, "process_owner")
    assert client.get(f"/processes/instances/{waiting.id}/migrate?to=2").status_code == 403
    answer = client.post(f"/processes/instances/{waiting.id}/migrate",
                         data={"to": "2", "csrf_token": token})  # fmt: skip
    assert answer.status_code == 403
    assert runtime.instance(waiting.id).version == 1


def test_diff_lists_changed_decision_rules(client, runtime):
    dmn = bundle()["eligibility.dmn"]
    rule = dmn.split(b'<rule id="', 2)[1].split(b'"', 1)[0]
    runtime.deploy({**bundle(), "eligibility.dmn": dmn.replace(rule, rule + b"_v2")}, "owner")
    sign_in(client, "process_owner")
    page = client.get("/processes/residence_registration/diff?from=1&to=2").get_data(as_text=True)
    assert 'data-file="eligibility.dmn"' in page and rule.decode() + "_v2" in page


def test_saving_an_unchanged_decision_table_validates(client):
    token = sign_in(client, "process_owner")
    answer = save(client, token, bundle()["eligibility.dmn"], "eligibility.dmn")
    assert answer.status_code == 200 and answer.get_json() == {"problems": []}


def test_an_unknown_version_is_not_found(client):
    sign_in(client, "process_owner")
    assert client.get("/processes/residence_registration/9/").status_code == 404
    assert client.get(f"{BASE}/files/nowhere.bpmn").status_code == 404


def test_an_unsafe_move_is_refused_with_the_reasons(client, runtime):
    waiting = runtime.start("residence_registration", COUNTER_APPLICATION, actor="clerk")
    token = sign_in(client, "administrator")
    answer = client.post(f"/processes/instances/{waiting.id}/migrate",
                         data={"to": "1", "csrf_token": token}, follow_redirects=True)  # fmt: skip
    assert "not newer" in answer.get_data(as_text=True)
    assert runtime.instance(waiting.id).version == 1


def test_diff_page_says_what_changed_per_element(client, runtime):
    files = renamed_check()
    files[BPMN_FILE] = files[BPMN_FILE].replace(SCRIPT, b"<bpmn:script>service_error = 1")
    files["eligibility.dmn"] = files["eligibility.dmn"].replace(
        b'<inputEntry id="InputEntry_NotACitizen_2"><text>False</text>',
        b'<inputEntry id="InputEntry_NotACitizen_2"><text>True</text>',
    )
    runtime.deploy(files, "owner")
    sign_in(client, "process_owner")
    page = client.get("/processes/residence_registration/diff?from=1&to=2").get_data(as_text=True)
    text = html.unescape(page)
    check = text.split('data-element-id="Task_CheckDocuments"')[1].split("</article>")[0]
    assert '<td class="mono before">Check documents at the counter</td>' in check
    assert '<td class="mono after">Check the documents</td>' in check
    script = text.split('data-element-id="Task_PrepareApplication"')[1].split("</article>")[0]
    assert '<span class="line-removed">-service_error = None</span>' in script
    assert '<span class="line-added">+service_error = 1</span>' in script
    rule = text.split('data-element-id="Rule_NotACitizen"')[1].split("</article>")[0]
    assert "Rule 2" in rule and '<th scope="col">Citizen</th>' in rule
    assert rule.count('<td class="mono cell-changed">') == 2
    assert '"changed": ["Rule_NotACitizen"]' in text
