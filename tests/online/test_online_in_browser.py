"""The whole online route in Chromium: apply and sign, co-owners consent or refuse, the result."""

import re

import pytest

from webapp.signing import sign_with_files

from .conftest import COOWNED_ARC, KAIRAT, PASSWORD


@pytest.fixture
def open_as(browser, live_url):
    """Return a function that opens a Chromium page signed in as a user."""
    contexts = []

    def sign_in(username: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(live_url + "/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button.button-primary")
        page.wait_for_url(re.compile(r".*/$"))
        page.base = live_url
        return page

    yield sign_in
    for context in contexts:
        context.close()


def sign_with_outbox_code(page) -> None:
    """Send a code, read it from the outbox page and sign with it."""
    page.click("#send-code")
    page.wait_for_selector("#field-code")
    page.goto(page.base + "/portal/outbox")
    code = re.search(r"Tirkeu: (\d{6}) is your code", page.inner_text("#outbox")).group(1)
    page.goto(page.base + "/portal/sign")
    page.fill("#field-code", code)
    page.click("#sign-with-code")


def apply_and_sign(page, screenshot) -> str:
    """Order the service for oneself at the co-owned flat and sign it; return its number."""
    page.click("nav >> text=My applications")
    page.click(".page-head >> text=Order the service")
    page.fill("#field-arc", COOWNED_ARC)
    page.click("text=Review the application")
    page.wait_for_selector("#document")
    assert "Application for registration at the place of residence" in page.inner_text("#document")
    screenshot(page, "portal")
    sign_with_outbox_code(page)
    page.wait_for_selector("#history")
    return re.search(r"A-\d+", page.inner_text("h1")).group(0)


def open_request(page, number: str) -> None:
    """Open the owner's consent request of the application from the personal account."""
    page.goto(page.base + "/portal/consents")
    page.click(f"text={number}")
    page.wait_for_selector("#request")


def test_applicant_signs_by_code_co_owners_consent_and_the_registration_shows(
    open_as, screenshot, instance, tmp_path
):
    applicant = open_as("applicant")
    number = apply_and_sign(applicant, screenshot)

    gulnara = open_as("gulnara")
    open_request(gulnara, number)
    screenshot(gulnara, "consent")
    gulnara.check("input[value=approve]")
    gulnara.click("#answer-and-sign")
    sign_with_outbox_code(gulnara)
    assert "You consented" in gulnara.inner_text("#answer")

    kairat = open_as("kairat")
    open_request(kairat, number)
    kairat.check("input[value=approve]")
    kairat.click("#answer-and-sign")
    document = kairat.request.get(kairat.base + "/portal/sign/document.txt").body()
    pki = instance / "pki"
    cms = sign_with_files(document, pki / f"{KAIRAT}.key.pem", pki / f"{KAIRAT}.cert.pem")
    kairat.click("text=Sign with another EDS tool and paste the signature")
    kairat.fill("#field-cms", cms)
    kairat.click("#sign-with-eds")
    assert "You consented" in kairat.inner_text("#answer")

    applicant.goto(applicant.base + "/portal/")
    assert "Registered" in applicant.inner_text("#applications")
    applicant.click(f"text={number}")
    assert "You are registered" in applicant.inner_text("#result")
    assert applicant.inner_text("#owner-answers").count("Consented") == 2


def test_an_owner_refuses_and_the_applicant_sees_the_reason(open_as, screenshot):
    applicant = open_as("applicant")
    number = apply_and_sign(applicant, screenshot)
    gulnara = open_as("gulnara")
    open_request(gulnara, number)
    gulnara.check("input[value=refuse]")
    gulnara.click("#answer-and-sign")
    sign_with_outbox_code(gulnara)
    assert "You refused" in gulnara.inner_text("#answer")
    applicant.goto(applicant.base + "/portal/")
    applicant.click(f"text={number}")
    result = applicant.inner_text("#result")
    assert "Refused" in result
    assert "Closed without an answer" in applicant.inner_text("#owner-answers")
