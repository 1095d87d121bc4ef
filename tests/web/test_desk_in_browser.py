"""The desk in Chromium: a counter application worked to its end; a supervisor reassigns."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.conftest import APPLICANT_IIN, ARC_OWN_FLAT, CHROMIUM
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
    page.fill("#field-arc", ARC_OWN_FLAT)
    page.select_option("#field-registration_type", "permanent")
    page.click("text=Start the application")
    assert "has been started" in page.text_content(".flashes")
    page.click("button:text-is('Claim')")
    page.check("#field-identity_document_checked")
    page.click("button:text-is('Complete')")
    assert page.text_content("#error-check_result")
    page.check("input[name=check_result][value=accepted]")
    page.click("button:text-is('Complete')")
    assert "Task completed for application" in page.text_content(".flashes")
    with sessions.begin() as session:
        instance = session.scalar(select(Instance))
        assert instance.status == "completed"
        assert instance.summary["outcome"] == "registered"


def test_supervisor_reassigns_an_overdue_task(browser_page, runtime, start_check, sessions):
    late = start_check(at=utcnow() - timedelta(minutes=18))
    runtime.claim(late, "clerk")
    page = browser_page("supervisor")
    page.click("text=Office queue")
    row = page.locator("tbody tr.row-overdue")
    assert "overdue" in row.locator(".countdown").text_content()
    row.locator("select").select_option("clerk2")
    row.locator("button").click()
    assert "The task was given to clerk2." in page.text_content(".flashes")
    with sessions.begin() as session:
        assert session.get(HumanTask, late).claimed_by == "clerk2"
