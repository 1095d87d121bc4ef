"""Process texts in the reader's language on the pages, and the process owners' Texts page."""

import html
import re

import pytest
from sqlalchemy import select

from tests.web.conftest import PROCESSES, application, sign_in
from webapp.bootstrap import bundles, read_bundle
from webapp.db.models import Deployment
from webapp.runtime import texts
from webapp.runtime.errors import Conflict

TEXTS_PAGE = "/processes/residence_registration/1/texts"


def page_text(client, url: str, language: str) -> str:
    """Return a page as the client sees it in a language."""
    client.set_cookie("lang", language)
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def shipped() -> dict[str, bytes]:
    """Return the shipped process's bundle as `tirkeu deploy processes/` reads it."""
    return read_bundle(bundles([PROCESSES])[0])


def without(bundle: dict[str, bytes], language: str, key: str) -> dict[str, bytes]:
    """Return the bundle with one entry removed from a language's catalogue."""
    name = texts.po_name(language)
    po = bundle[name].decode()
    entry = re.compile(rf'msgctxt "{re.escape(key)}"\nmsgid .*?\nmsgstr .*?\n\n', re.DOTALL)
    assert entry.search(po), key
    return {**bundle, name: entry.sub("", po, count=1).encode()}


@pytest.mark.parametrize(
    ("language", "title", "label", "instruction"),
    [
        ("kk", "Құжаттарды терезеде тексеру", "Тексеру нәтижесі", "Түпнұсқаларды тексеріңіз"),
        ("ru", "Проверка документов в окне приёма", "Результат проверки", "Проверьте оригиналы"),
    ],
)
def test_clerk_sees_the_task_in_their_language(
    client, start_check, language, title, label, instruction
):
    task_id = start_check()
    token = sign_in(client, "clerk")
    listing = page_text(client, "/tasks/?tab=queue", language)
    assert title in listing
    client.post(f"/tasks/{task_id}/claim", data={"csrf_token": token})
    page = page_text(client, f"/tasks/{task_id}", language)
    assert f"<h1>{title}</h1>" in page
    assert label in page
    assert instruction in page
    assert "A-0001" in page  # the instructions are rendered over the task's data
    assert "untranslated" not in page
    assert "Check documents at the counter" not in page


def test_english_reader_sees_the_diagram_text_unmarked(client, start_check):
    task_id = start_check()
    sign_in(client, "clerk")
    page = page_text(client, f"/tasks/{task_id}", "en")
    assert "<h1>Check documents at the counter</h1>" in page
    assert "untranslated" not in page


def test_an_untranslated_version_shows_english_marked_and_logs_each_text_once(
    client, runtime, caplog
):
    bundle = {n: c for n, c in shipped().items() if not texts.is_catalogue_file(n)}
    runtime.deploy(bundle, deployed_by="tests")
    view = runtime.start("residence_registration", application("A-0900"))
    [task] = [t for t in view.ready_tasks if t.bpmn_id == "Task_CheckDocuments"]
    token = sign_in(client, "clerk")
    client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token})
    with caplog.at_level("WARNING", logger="webapp.web.texts"):
        page = page_text(client, f"/tasks/{task.id}", "kk")
        page_text(client, f"/tasks/{task.id}", "kk")
    assert (
        '<h1><span lang="en" class="untranslated">Check documents at the counter'
        '<abbr class="untranslated-badge"' in page
    )
    assert '<span lang="en" class="untranslated">Result of the check' in page
    logged = [r for r in caplog.records if "Task_CheckDocuments:name" in r.getMessage()]
    assert len(logged) == 1


def test_counter_form_labels_follow_the_language(client):
    sign_in(client, "clerk")
    page = page_text(client, "/tasks/counter", "ru")
    assert "Вид регистрации" in page
    assert "Постоянная (по месту жительства)" in page
    assert "Kind of registration" not in page


def test_texts_page_lists_every_text_with_its_translations(client):
    sign_in(client, "process_owner")
    page = page_text(client, TEXTS_PAGE, "en")
    assert 'data-key="Task_CheckDocuments:name"' in page
    assert "Құжаттарды терезеде тексеру" in page
    assert "Проверка документов в окне приёма" in page
    assert 'data-key="value:flat"' in page
    assert 'class="missing"' not in page
    assert "Every text is translated." in page


def texts_form(client, url: str = TEXTS_PAGE) -> dict[str, str]:
    """Return a Texts page's form as posted unchanged."""
    page = page_text(client, url, "en")
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)}
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        form[html.unescape(name)] = html.unescape(value)
    return form


def test_changed_translation_is_proposed_as_a_pending_version(client, sessions, runtime):
    sign_in(client, "process_owner")
    form = texts_form(client)
    form["kk|Task_CheckDocuments:name"] = "Құжаттарды ХҚКО терезесінде тексеру"
    response = client.post(TEXTS_PAGE, data=form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with sessions.begin() as session:
        newest = session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
        assert newest.status == "pending"
        assert newest.deployed_by == "process_owner"
    content = runtime.deployment_file(newest.id, "translations/kk.po").decode()
    assert "Құжаттарды ХҚКО терезесінде тексеру" in content
    assert (
        "Проверка документов в окне приёма"
        in runtime.deployment_file(newest.id, "translations/ru.po").decode()
    )


def test_an_emptied_translation_is_proposed_marked_and_cannot_take_effect(client, runtime):
    sign_in(client, "process_owner")
    form = texts_form(client)
    form["ru|Task_GiveConsent:name"] = ""
    response = client.post(TEXTS_PAGE, data=form)
    assert response.status_code == 303
    assert response.location.endswith("/processes/residence_registration/2/texts")
    page = page_text(client, response.location, "en")
    assert "1 texts are still to translate" in page
    assert '<tr class="missing" data-key="Task_GiveConsent:name">' in page
    [pending] = runtime.deployments("pending")
    with pytest.raises(Conflict, match="translation of the name of Task_GiveConsent"):
        runtime.approve(pending.id, "administrator")


def test_unchanged_texts_propose_nothing(client, runtime):
    sign_in(client, "process_owner")
    response = client.post(TEXTS_PAGE, data=texts_form(client))
    assert response.status_code == 303
    assert response.location.endswith(TEXTS_PAGE)
    assert runtime.deployments("pending") == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("kk|Task_GiveConsent:instructions", "{{ secret_key }} келісім", "Uses data the English"),
        ("kk|Task_GiveConsent:instructions", "{% if %}", "Not a valid template"),
        ("ru|Task_GiveConsent:name", "x" * 4001, "Longer than 4000 characters"),
        ("ru|Task_GiveConsent:name", "Дать\x07согласие", "control characters"),
    ],
)
def test_bad_translation_is_refused_with_the_field_and_reason(client, field, value, reason):
    sign_in(client, "process_owner")
    form = texts_form(client)
    form[field] = value
    response = client.post(TEXTS_PAGE, data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert reason in page
    assert 'aria-invalid="true"' in page


def test_a_text_the_version_does_not_have_is_a_bad_request(client):
    sign_in(client, "process_owner")
    form = texts_form(client)
    form["kk|Task_Nowhere:name"] = "Жоқ"
    assert client.post(TEXTS_PAGE, data=form).status_code == 400


def test_a_renamed_task_is_proposed_but_takes_effect_only_once_translated(client, runtime):
    token = sign_in(client, "process_owner")
    bpmn = shipped()["residence_registration.bpmn"].replace(
        b'name="Check documents at the counter"', b'name="Check the documents"'
    )
    answer = client.post(
        "/processes/residence_registration/1/save/residence_registration.bpmn?deploy=1",
        data=bpmn,
        headers={"X-CSRFToken": token, "Content-Type": "application/xml"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [deployed] = answer.get_json()["deployed"]
    warnings = {p["file"]: p["message"] for p in answer.get_json()["problems"]}
    assert all(p["warning"] for p in answer.get_json()["problems"])
    assert (
        "outdated Kazakh (kk) translation of the name of Task_CheckDocuments"
        in warnings["translations/kk.po"]
    )
    admin_token = sign_in(client, "administrator")
    refused = client.post(f"{deployed['review_url']}/approve", data={"csrf_token": admin_token})
    assert refused.status_code == 302
    assert runtime.deployment(deployed["deployment_id"]).status == "pending"
    assert "Task_CheckDocuments" in client.get(refused.location).get_data(as_text=True)

    sign_in(client, "process_owner")
    page = f"/processes/residence_registration/{deployed['version']}/texts"
    shown = page_text(client, page, "en")
    assert '<tr class="missing" data-key="Task_CheckDocuments:name">' in shown
    form = texts_form(client, page)
    form["kk|Task_CheckDocuments:name"] = "Құжаттарды тексеру"
    form["ru|Task_CheckDocuments:name"] = "Проверка документов"
    proposed = client.post(page, data=form)
    assert proposed.status_code == 303
    review = proposed.location
    sign_in(client, "administrator")
    approved = client.post(f"{review}/approve", data={"csrf_token": admin_token})
    assert approved.status_code == 302
    version = runtime.start("residence_registration", application("A-0950"), actor="x")
    assert version.version == deployed["version"] + 1
