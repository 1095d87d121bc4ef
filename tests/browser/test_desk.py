"""The service-centre desk in Chromium, served on 127.0.0.1 by the real runtime.

A clerk starts a counter application, which opens its document check already claimed, is
sent back by an invalid form and by an unticked check that applies, fixes it and completes it,
and prints the citizen's receipt; a supervisor reassigns an overdue check. With
TIRKEU_SCREENSHOT_DIR set, the main pages are saved there at 1280x800.
"""

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.web.conftest import (  # noqa: F401  (the web tests' app fixtures, used here too)
    APPLICANT_IIN,
    ARC_OWN_FLAT,
    OWNER_IIN,
    PASSWORD,
    app,
    application,
    instance_folder,
    runtime,
    sessions,
    signed_start,
    signer,
    start_check,
    template_folder,
)
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance

VIEWPORT = {"width": 1280, "height": 800}
ARC_RUBBER_FLAT = "0351300004700031"


@pytest.fixture
def open_as(browser, live_url):  # noqa: F811
    """Return a function that opens a page signed in as a user."""
    contexts, errors = [], []

    def open_page(username: str):
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(live_url + "/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button.button-primary")
        page.wait_for_url(lambda url: "/login" not in url)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_clerk_starts_claims_corrects_and_completes_a_counter_application(
    open_as,
    sessions,  # noqa: F811
    screenshot,
):
    page = open_as("clerk")
    page.click("text=Start at the counter >> nth=0")
    page.type("#field-applicant_iin", "880517401807")
    # The IIN is checked as it is typed: wait for the verdict, which a busy machine delays.
    verdict = page.locator("#live-applicant_iin")
    expect(verdict).to_contain_text("Not a valid IIN", timeout=30_000)
    page.fill("#field-applicant_iin", "")
    page.type("#field-applicant_iin", OWNER_IIN)
    expect(verdict).to_have_text("IIN is valid.", timeout=30_000)
    page.fill("#field-person_iin", APPLICANT_IIN)
    # An attorney: the centre serves attorneys, and the authority check applies.
    page.select_option("#field-applicant_type", "attorney")
    page.fill("#field-arc", ARC_OWN_FLAT)
    page.select_option("#field-registration_type", "permanent")
    screenshot(page, "counter", full_page=False)
    page.click("text=Start the application")
    assert "has been started" in page.text_content(".flashes")
    # Started claimed by this clerk: the form is there, with the checks that apply only.
    page.wait_for_selector("button:text-is('Complete')")
    assert page.locator("#field-owner_consent_checked").count() == 0
    screenshot(page, "task", full_page=False)
    page.check("#field-identity_document_checked")
    page.click("button:text-is('Complete')")
    assert page.text_content("#error-check_result")
    assert page.is_checked("#field-identity_document_checked")
    page.check("input[name=check_result][value=accepted]")
    page.fill("#field-check_note", "Originals seen.")
    page.click("button:text-is('Complete')")
    assert "Tick this check" in page.text_content("#error-authority_checked")
    page.check("#field-authority_checked")
    page.click("button:text-is('Complete')")
    assert "Task completed for application" in page.text_content(".flashes")
    number = page.text_content("#registration-number")
    assert number and "Akhmetov Yerlan" in page.text_content(".receipt")
    screenshot(page, "receipt", full_page=False)
    with sessions.begin() as session:
        instance = session.scalar(select(Instance))
        assert (instance.status, instance.summary["outcome"]) == ("completed", "registered")


def test_supervisor_reassigns_an_overdue_task(
    open_as,
    signer,  # noqa: F811
    runtime,  # noqa: F811
    start_check,  # noqa: F811
    sessions,  # noqa: F811
    screenshot,
):
    late = start_check(at=utcnow() - timedelta(minutes=18))
    runtime.claim(late, "clerk")
    for minutes in (14, 9, 3):
        start_check(at=utcnow() - timedelta(minutes=minutes))
    # Sixteen people are registered at this flat already: a supervisor reviews the seventeenth.
    review = application("B-0001", channel="online", arc=ARC_RUBBER_FLAT)
    process = "residence_registration"
    runtime.start(process, signed_start(runtime, signer, process, review))
    clerk = open_as("clerk")
    clerk.goto(clerk.url.split("/tasks")[0] + "/tasks/?tab=queue")
    screenshot(clerk, "tasks", full_page=False)
    page = open_as("supervisor")
    page.click("text=Office queue")
    row = page.locator("tbody tr.row-overdue", has_text="clerk").first
    assert "overdue" in row.locator(".countdown").text_content()
    screenshot(page, "supervisor", full_page=False)
    row.locator("select").select_option("clerk2")
    row.locator("button").click()
    assert "The task was given to clerk2." in page.text_content(".flashes")
    with sessions.begin() as session:
        assert session.get(HumanTask, late).claimed_by == "clerk2"
