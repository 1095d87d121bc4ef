"""The page scripts in Chromium: the IIN check digit as typed, and the live countdown."""

import re
from datetime import timedelta

import pytest

from service_tasks.identifiers import is_valid_iin
from webapp.db.base import utcnow

IINS = ["850314304175", "880517401806", "880517401807", "900701300107", "000229501204", "123"]


@pytest.fixture
def page(browser_page):
    return browser_page("clerk")


def test_iin_script_agrees_with_the_server_and_warns_as_typed(page):
    page.goto(page.base + "/tasks/counter")
    for iin in IINS:
        assert page.evaluate("iin => window.tirkeuIsValidIin(iin)", iin) is is_valid_iin(iin)
    page.type("#field-person_iin", "880517401807")
    assert "Not a valid IIN" in page.text_content("#live-person_iin")
    assert page.get_attribute("#field-person_iin", "aria-invalid") == "true"
    page.fill("#field-person_iin", "")
    page.type("#field-person_iin", "88a0517401806")
    assert page.input_value("#field-person_iin") == "880517401806"
    assert page.text_content("#live-person_iin") == "IIN is valid."


def test_countdown_ticks_and_marks_overdue_tasks(page, start_check):
    start_check(at=utcnow() - timedelta(minutes=5))  # due in 10 minutes
    start_check(at=utcnow() - timedelta(minutes=17))  # 2 minutes overdue
    page.goto(page.base + "/tasks/?tab=queue")
    late, soon = page.query_selector_all(".countdown")
    shown = soon.text_content()
    page.wait_for_function(
        "shown => document.querySelectorAll('.countdown')[1].textContent !== shown", arg=shown
    )
    assert re.fullmatch(r"overdue [23]:\d\d", late.text_content())
    assert "overdue" in late.get_attribute("class")
    assert re.fullmatch(r"[89]:\d\d", soon.text_content())
    rows = page.query_selector_all("tbody tr")
    assert ["row-overdue" in (row.get_attribute("class") or "") for row in rows] == [True, False]


def test_server_message_gives_way_to_the_live_check_once_the_user_types(page):
    page.goto(page.base + "/tasks/counter")
    page.fill("#field-person_iin", "880517401807")
    page.click("button.button-primary")
    assert "Not a valid IIN" in page.text_content("#error-person_iin")
    assert page.text_content("#live-person_iin") == ""
    page.fill("#field-person_iin", "")
    page.type("#field-person_iin", "880517401806")
    assert page.query_selector("#error-person_iin") is None
    assert page.text_content("#live-person_iin") == "IIN is valid."
