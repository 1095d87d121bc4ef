"""Every role's pages in Kazakh and in Russian, in Chromium: no English text of the process or
of the interface, apart from proper names and codes.

A page's visible text, its options and its labels for assistive technology are read in the
browser. Left out, because they are not English shown as the reader's language: content marked
with another language (`lang`), code and data (`code`, `pre`, `.mono`, form inputs) and the
diagrams, which show the process as modelled. Any text shown in English for want of a
translation (`.untranslated`) fails the page too.
"""

import json
import re

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from tests.online.conftest import (  # noqa: F401  (fixtures)
    COOWNED_ARC,
    GULNARA,
    PASSWORD,
    PEOPLE,
    Browser,
    app,
    instance,
    runtime,
    sessions,
    signed_in,
    template_instance,
)
from tests.online.test_portal_pages import apply, consent_task
from tests.web.conftest import application
from webapp.accounts import create_user

LANGUAGES = ("kk", "ru")
# Staff the online product's fixture lacks: one per remaining role.
STAFF = (
    ("supervisor", ["supervisor"]),
    ("process_owner", ["process_owner"]),
    ("administrator", ["administrator"]),
)
# Latin words allowed on a Kazakh or Russian page: the product's name, names of formats written
# so in both languages, and the country code of citizenship.
ALLOWED = {"Tirkeu", "JSON", "Python", "CSV", "XES", "SMS", "UTC", "UI", "API", "KZ"}
ALLOWED_PHRASES = ("JSON Lines",)


def proper_names() -> set[str]:
    """Return the words of the accounts' user names and full names and of the registries' names
    of people and places (the sandbox writes them in Latin letters)."""
    words = {word for username, _roles, _iin in PEOPLE for word in (username, username.title())}
    words |= {word for username, _roles in STAFF for word in (username, username.title())}
    dataset = json.loads(DEFAULT_DATASET_PATH.read_text(encoding="utf-8"))
    for person in dataset["persons"]:
        words.update(str(person.get(key) or "") for key in ("surname", "given_name", "patronymic"))
    for premises in dataset["premises"]:
        address = premises.get("address") or {}
        for key in ("region", "district", "settlement", "street"):
            words.update(str(address.get(key) or "").replace(",", " ").split())
    return words


NAMES = proper_names()
# Codes and data: anything with a digit, an underscore, a dot or a slash in it.
CODE = re.compile(r"[0-9_./@:]")
LEFT_OUT = (
    "script, style, svg, textarea, pre, code, .mono, input, "
    ".diagram, .process-editor, .dmn-editor, .decision-diagram, .djs-container"
)
READ_PAGE = """([leftOut]) => {
  const page = document.documentElement.lang;
  const skipped = (node) => node.closest(leftOut) ||
    [...ancestors(node)].some((el) => el.lang && el.lang !== page);
  function* ancestors(el) { for (; el; el = el.parentElement) yield el; }
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (el && !skipped(el) && el.getClientRects().length) texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], option")) {
    if (skipped(el)) continue;
    for (const name of ["aria-label", "title", "placeholder"]) {
      if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
    if (el.tagName === "OPTION") texts.push(el.textContent);
  }
  texts.push(document.title);
  return {texts, untranslated: [...document.querySelectorAll(".untranslated")]
    .map((el) => el.textContent)};
}"""


def english_words(texts: list[str]) -> list[str]:
    """Return the Latin words of the texts that are neither allowed names nor codes."""
    found = []
    for text in texts:
        for phrase in ALLOWED_PHRASES:
            text = text.replace(phrase, "")
        for token in text.split():
            token = token.strip("«»\"'()[]{},;:!?…—–-·*")
            if CODE.search(token):
                continue
            for part in token.split("-"):  # "SMS-шлюз", "API-токены"
                if part not in ALLOWED and part not in NAMES and re.search(r"[A-Za-z]{2}", part):
                    found.append(part)
    return found


@pytest.fixture
def product(app, runtime, sessions, language):  # noqa: F811  (fixtures imported above)
    """The product with a case for every role: a counter application claimed by the clerk, an
    online application (made in the test's language) waiting for the owners' consent, and a
    refused one."""
    with sessions.begin() as session:
        for username, roles in STAFF:
            create_user(session, username, PASSWORD, roles, full_name=username.title())
    # A counter application starts with its check claimed by the clerk who took it in.
    counter = runtime.start("residence_registration", application("A-7001"), actor="clerk")
    [check] = counter.ready_tasks
    client = Browser(app, "applicant")
    client.client.set_cookie("lang", language)
    apply(client, arc=COOWNED_ARC)
    assert client.post("/portal/sign/code").status_code == 303
    outbox = client.get("/portal/outbox").get_data(as_text=True)
    code = re.search(r"Tirkeu: (\d{6})", outbox).group(1)  # the message in the language asked
    signed = client.post("/portal/sign/verify", {"code": code})
    waiting = int(signed.headers["Location"].rsplit("/", 1)[1])
    child = application("A-7002", applicant_type="parent", person_iin="150203600191")
    refused = runtime.start("residence_registration", child, actor="clerk").id
    assert runtime.instance(refused).data["refusal_reason"] == "under_14"
    consent = consent_task(sessions, GULNARA)
    return {"check": check.id, "waiting": waiting, "refused": refused, "consent": consent.id,
            "counter": counter.id}  # fmt: skip


def pages_of(role: str, case: dict) -> tuple[str, list[str]]:
    """Return the user who plays a role and the pages they visit."""
    process = "/processes/residence_registration/1"
    return {
        "clerk": ("clerk", ["/tasks/", "/tasks/?tab=queue", f"/tasks/{case['check']}",
                            "/tasks/counter"]),
        "supervisor": ("supervisor", ["/tasks/supervisor", f"/tasks/{case['check']}"]),
        "applicant": ("applicant", ["/portal/", "/portal/apply",
                                    f"/portal/applications/{case['waiting']}",
                                    f"/portal/applications/{case['refused']}",
                                    "/portal/outbox"]),
        "owner": ("gulnara", ["/portal/consents", f"/portal/consents/{case['consent']}",
                              "/portal/outbox"]),
        "process_owner": ("process_owner", ["/processes/", f"{process}/", f"{process}/edit",
                                            f"{process}/texts", "/processes/deployments/"]),
        "analyst": ("analyst", ["/analytics/", "/analytics/dashboard",
                                f"/analytics/instances/{case['counter']}",
                                f"/analytics/instances/{case['refused']}"]),
        "administrator": ("administrator", ["/admin/", "/admin/instances", "/admin/users",
                                            "/admin/retention"]),
    }[role]  # fmt: skip


ROLES = ("clerk", "supervisor", "applicant", "owner", "process_owner", "analyst", "administrator")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_the_role_is_in_the_language(
    browser, live_url, product, role, language, screenshot
):
    username, pages = pages_of(role, product)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    context.add_cookies([{"name": "lang", "value": language, "url": live_url}])
    page = context.new_page()
    try:
        page.goto(f"{live_url}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("form:has(#password) button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
        found = {}
        for path in pages:
            response = page.goto(live_url + path)
            assert response.status == 200, f"{path}: {response.status}"
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.lang") == language
            read = page.evaluate(READ_PAGE, [LEFT_OUT])
            words = english_words(read["texts"])
            if words or read["untranslated"]:
                found[path] = {"english": sorted(set(words)), "untranslated": read["untranslated"]}
                screenshot(page, f"{language}-{role}-{len(found)}")
        assert not found, f"English on {role}'s pages in {language}: {found}"
    finally:
        context.close()


def test_the_check_finds_english_but_not_names_codes_or_marked_languages():
    texts = ["Құжаттарды тексеру A-0001 850314304175 check_documents.schema.json",
             "Проверка документов · Tirkeu · SMS-шлюз · Yerlan Akhmetov",
             "Check documents at the counter", "Refuse: data unreliable"]  # fmt: skip
    assert english_words(texts) == ["Check", "documents", "at", "the", "counter", "Refuse",
                                    "data", "unreliable"]  # fmt: skip
