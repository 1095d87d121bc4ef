"""The sign page in Chromium signs through NCALayer (a stand-in on a local WebSocket that
signs with the demo keys): the application is submitted with the shown document, and each way
NCALayer can fail is told in the signer's language."""

import base64
import re
from dataclasses import replace

import pytest

from webapp.signing import DemoCA, issue_person_certificate
from webapp.web import create_app

from .conftest import APPLICANT, COOWNED_ARC, KAIRAT, PASSWORD, product_settings
from .ncalayer import NCALayerStandIn


@pytest.fixture
def stand_in(instance):
    """NCALayer on this machine, holding the applicant's demo key."""
    person = issue_person_certificate(DemoCA.load(instance / "pki"), APPLICANT, "AKHMETOV YERLAN")
    ncalayer = NCALayerStandIn(person).start()
    yield ncalayer
    ncalayer.stop()


@pytest.fixture
def app(instance, stand_in):
    """The product, its sign page pointed at the stand-in."""
    application = create_app(replace(product_settings(instance), ncalayer_url=stand_in.url))
    application.config["TESTING"] = True
    yield application
    application.extensions["tirkeu_notices"].dispose()


@pytest.fixture
def applicant_page(browser, live_url):
    """Return a function opening Chromium signed in as the applicant in a language."""
    contexts = []

    def open_in(language: str, width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        context.set_default_timeout(20_000)
        context.add_cookies([{"name": "lang", "value": language, "url": live_url}])
        page = context.new_page()
        page.goto(live_url + "/login")
        page.fill("#username", "applicant")
        page.fill("#password", PASSWORD)
        page.click("button.button-primary")
        page.wait_for_url(re.compile(r".*/$"))
        page.goto(live_url + "/portal/apply")
        page.fill("#field-arc", COOWNED_ARC)
        page.click("#application-form button[type=submit]")
        page.wait_for_selector("#document")
        return page

    yield open_in
    for context in contexts:
        context.close()


def test_applicant_signs_through_ncalayer_and_sees_the_signed_document_again(
    applicant_page, stand_in, screenshot, live_url
):
    page = applicant_page("ru")
    shown = page.inner_text("#document")
    assert "Заявление о регистрации по месту жительства" in shown
    csp = page.request.get(live_url + "/portal/sign").headers["content-security-policy"]
    assert f"connect-src 'self' {stand_in.url};" in csp
    screenshot(page, "sign-ncalayer-ru")
    page.click("#sign-with-ncalayer")
    page.wait_for_selector("#signed-document")
    assert page.inner_text("#signed-text") == shown
    [request] = stand_in.requests
    signed_bytes = base64.b64decode(request["args"][2])
    assert signed_bytes.decode().startswith(shown)
    assert request["args"][:2] == ["PKCS12", "SIGNATURE"] and request["args"][3] is True
    assert re.search(r"A-\d+", page.inner_text("h1"))
    screenshot(page, "signed-application-ru")
    page.set_viewport_size({"width": 390, "height": 900})
    wide = page.evaluate(
        "[...document.querySelectorAll('#signed-document, #signed-document *')]"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth).map(e => e.tagName)"
    )
    assert not wide, wide  # the signed document reads on a phone, wrapped, with no sideways scroll


def test_cancelling_in_ncalayer_is_told_and_nothing_is_submitted(applicant_page, stand_in):
    stand_in.cancel = True
    page = applicant_page("kk")
    page.click("#sign-with-ncalayer")
    page.wait_for_selector("#ncalayer-status.error")
    assert "NCALayer-де қол қоюдан бас тарттыңыз" in page.inner_text("#ncalayer-status")
    assert page.url.endswith("/portal/sign")


def test_a_key_of_another_person_is_refused_in_the_signers_language(
    applicant_page, stand_in, instance
):
    stand_in.credentials = issue_person_certificate(
        DemoCA.load(instance / "pki"), KAIRAT, "NURLANOV KAIRAT"
    )
    page = applicant_page("ru")
    page.click("#sign-with-ncalayer")
    page.wait_for_selector(".flash-error")
    assert "принадлежит другому лицу" in page.inner_text(".flash-error")
    assert page.is_visible("#document")


def test_ncalayer_not_running_is_told_with_the_other_ways_left(
    applicant_page, stand_in, screenshot
):
    page = applicant_page("en", width=390)
    stand_in.stop()
    page.click("#sign-with-ncalayer")
    page.wait_for_selector("#ncalayer-status.error")
    assert "NCALayer is not running" in page.inner_text("#ncalayer-status")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "sign-ncalayer-not-running-390")
