"""The desk in Chromium: a counter application worked to its end; a supervisor reassigns."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.conftest import APPLICANT_IIN, CHROMIUM
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]


def test_clerk_starts_claims_corrects_and_completes_a_counter_application(browser_page, sessions):
    page = browser_page("clerk")
    page.click("text=Start at the counter >> nth=0")
    page.fill("#field-applicant_iin", APPLICANT_IIN)
    page.fill("#field-person_iin", APPLICANT_IIN)
    page.select_option("#field-applicant_type", "self")
    page.fill("#field-arc", "0201300098765432")
    page.select_option("#field-registration_type", "permanent")
    page.click("text=Start the application")
    assert "has been started" in page.text_content(".flashes")
    page.click("button:text-is('Claim')")
    page.fill("#field-pages", "0")
    page.click("button:text-is('Complete')")
    assert page.text_content("#error-pages") == "The value is too small."
    assert page.evaluate("document.activeElement.id") == "field-pages"
    page.fill("#field-pages", "4")
    page.check("#field-documents_ok")
    page.click("button:text-is('Complete')")
    assert "Task completed for application A-0001" in page.text_content(".flashes")
    with sessions.begin() as session:
        instance = session.scalar(select(Instance))
        assert instance.status == "completed"


def test_supervisor_reassigns_an_overdue_task(browser_page, fake_runtime, sessions):
    late = fake_runtime.add_task(
        {}, state="claimed", claimed_by="clerk", due_at=utcnow() - timedelta(minutes=3)
    )
    page = browser_page("supervisor")
    page.click("text=Office queue")
    row = page.locator("tbody tr.row-overdue")
    assert "overdue" in row.locator(".countdown").text_content()
    row.locator("select").select_option("clerk2")
    row.locator("button").click()
    assert "The task was given to clerk2." in page.text_content(".flashes")
    with sessions.begin() as session:
        assert session.get(HumanTask, late).claimed_by == "clerk2"
