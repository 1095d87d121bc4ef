"""A process owner edits the registration in the modeler and proposes it; another approves it
with the changes in front of them."""

import json
import re
from pathlib import Path

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.web.conftest import application
from webapp.accounts import create_user
from webapp.bootstrap import bundles, product_runtime, read_bundle
from webapp.db import accounts as _accounts  # noqa: F401  (registers the account tables)
from webapp.db.base import Base
from webapp.db.session import make_engine, make_session_factory
from webapp.web import create_app

from .diagram_pages import REPO_ROOT

FOLDER = REPO_ROOT / "processes" / "residence_registration"
SETTINGS = json.loads((REPO_ROOT / "processes" / "settings.json").read_text())
PASSWORD = "correct horse battery"


@pytest.fixture
def runtime(tmp_path: Path):
    """The real runtime on a SQLite file with the registration deployed and a process owner."""
    engine = make_engine(f"sqlite:///{tmp_path / 'tirkeu.db'}")
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        create_user(session, "owner", PASSWORD, ["process_owner"], full_name="Process Owner")
        create_user(session, "owner2", PASSWORD, ["process_owner"], full_name="Second Owner")
    registry_url = f"sqlite:///{tmp_path / 'registries.db'}"
    store = SandboxStore(registry_url)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    store.dispose()
    operators = build_operators({"registry_mode": "sandbox", "registry_url": registry_url})
    runtime = product_runtime(sessions, operators, SETTINGS, list)
    files = read_bundle(bundles([FOLDER])[0])
    runtime.deploy(files, deployed_by="tirkeu init")
    yield runtime
    engine.dispose()


@pytest.fixture
def app(runtime):
    """The web application on that runtime."""
    return create_app({"SECRET_KEY": "browser secret", "DATABASE_URL": "sqlite://",
                       "RUNTIME": runtime, "SESSION_FACTORY": runtime.session_factory})  # fmt: skip


@pytest.fixture
def owners_room(live_url, runtime):
    """Return the URL of the app served over HTTP, and its runtime."""
    return live_url, runtime


def sign_in(page, url: str, username: str = "owner") -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(f"{url}/")


def test_owner_renames_a_task_another_approves_it_and_old_instances_keep_their_version(
    page, browser, owners_room, screenshot
):
    url, runtime = owners_room
    before = runtime.start("residence_registration", application("A-1"), "x")
    sign_in(page, url)

    page.goto(f"{url}/processes/residence_registration/1/edit")
    page.wait_for_selector("#bpmn-editor[data-diagram-state=ready]")
    # It opens at a readable zoom on the diagram's start; fitted whole, every task can be clicked.
    page.locator("#bpmn-editor [data-zoom=zoom-fit]").click()
    page.locator(".djs-element.djs-shape[data-element-id='Task_CheckDocuments']").click()
    page.wait_for_selector(".properties-panel[data-element-id='Task_CheckDocuments']")
    name = page.locator(".properties-panel input[name=name]")
    name.fill("Check the documents")
    name.press("Tab")
    screenshot(page, "editor", full_page=False)

    editor = page.locator("#bpmn-editor")
    editor.locator("[data-action=save]").click()
    page.wait_for_selector("#bpmn-editor .save-results[data-outcome]")
    results = editor.locator(".save-results")
    assert results.get_attribute("data-outcome") == "ok", results.inner_text()
    editor.locator("[data-action=deploy]").click()
    page.wait_for_selector("#bpmn-editor .save-results .deployed")
    assert "residence_registration" in editor.locator(".save-results .deployed").inner_text()
    assert "awaits approval" in editor.locator(".save-results").inner_text()

    page.goto(f"{url}/processes/")
    rows = page.locator("table.versions tbody tr")
    assert rows.count() == 2
    assert page.locator("tr.latest").get_attribute("data-version") == "1"
    assert "awaiting approval" in page.locator("tr[data-version='2']").inner_text()
    assert page.locator("tr[data-version='1'] td.running").inner_text() == "1"
    screenshot(page, "catalogue")
    assert runtime.start("residence_registration", application("A-2"), "x").version == 1

    # The renamed task's Kazakh and Russian names are written before the version can take effect.
    page.goto(f"{url}/processes/residence_registration/2/texts")
    renamed = page.locator("tr.missing[data-key='Task_CheckDocuments:name']")
    assert page.locator("tr.missing").count() == 1
    renamed.locator("textarea[lang=kk]").fill("Құжаттарды тексеру")
    renamed.locator("textarea[lang=ru]").fill("Проверка документов")
    screenshot(page, "texts", full_page=False)
    page.get_by_role("button", name="Propose as a new version").click()
    page.wait_for_url(re.compile(r".*/processes/deployments/[0-9]+$"))

    reviewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(reviewer, url, "owner2")
    reviewer.goto(f"{url}/processes/deployments/")
    reviewer.locator("tr[data-deployment] a").first.click()
    reviewer.wait_for_selector(".diff-diagram[data-diagram-state=ready]")
    assert reviewer.locator(".djs-element.diff-changed").count() == 1
    reviewer.get_by_role("button", name="Approve").click()
    reviewer.wait_for_url(f"{url}/processes/deployments/")
    reviewer.context.close()
    assert runtime.instance(before.id).version == 1
    after = runtime.start("residence_registration", application("A-3"), "x")
    assert after.version == 3

    page.goto(f"{url}/processes/residence_registration/diff?from=1&to=3")
    page.wait_for_selector(".diff-diagram[data-diagram-state=ready]")
    changed = page.locator(".djs-element.diff-changed")
    assert changed.count() == 1
    assert changed.get_attribute("data-element-id") == "Task_CheckDocuments"
    screenshot(page, "diff", full_page=False)


def test_viewer_renders_the_diagram_decisions_and_forms(page, owners_room, screenshot):
    url, _runtime = owners_room
    sign_in(page, url)
    page.goto(f"{url}/processes/residence_registration/1/")
    page.wait_for_selector("#diagram[data-diagram-state=ready]")
    for decision in page.locator(".decision-diagram").all():
        decision.wait_for(state="attached")
    # A locator, not a function polled in the page: the page's CSP forbids evaluating strings.
    page.locator(".decision-diagram:not([data-diagram-state=ready])").first.wait_for(
        state="detached", timeout=60000
    )
    assert page.locator(".form-preview fieldset[disabled]").count() == 6
    screenshot(page, "viewer")


def test_form_schema_edits_show_a_live_preview_and_save_validates_them(
    page, owners_room, screenshot
):
    url, _runtime = owners_room
    sign_in(page, url)
    page.goto(f"{url}/processes/residence_registration/1/edit")
    form = page.locator("[data-form-editor][data-name='check_petition.schema.json']")
    form.locator("summary").click()
    preview = form.locator(".form-live-preview")
    preview.locator("input, select, textarea").first.wait_for()
    source = form.locator("textarea").first
    schema = json.loads(source.input_value())
    first = next(iter(schema["properties"]))
    schema["properties"][first]["title"] = "Number of the petition, renamed"
    source.fill(json.dumps(schema, indent=2))
    preview.get_by_text("Number of the petition, renamed").wait_for()
    form.locator("[data-action=save]").click()
    page.wait_for_selector("[data-name='check_petition.schema.json'][data-outcome=ok]")
    schema["$ref"] = "http://example.org/remote.json"
    source.fill(json.dumps(schema))
    form.locator("[data-action=deploy]").click()
    page.wait_for_selector("[data-name='check_petition.schema.json'][data-outcome=problems]")
    assert "check_petition.schema.json" in form.locator(".problems").inner_text()
    screenshot(page, "form-editor", full_page=False)
