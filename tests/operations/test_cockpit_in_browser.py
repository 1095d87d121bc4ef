"""In Chromium at 1280 px: an administrator repairs a failed application in the cockpit."""

import pytest

from .conftest import PASSWORD
from .test_cockpit import application, cockpit, cockpit_runtime  # noqa: F401  (fixtures)


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def app(cockpit):  # noqa: F811  (the fixture imported above)
    return cockpit[0]


@pytest.fixture
def admin_page(browser, live_url):
    """A Chromium page at 1280 px signed in as the administrator; it collects console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_url}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{live_url}/**")
    yield page, live_url, errors
    context.close()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_administrator_fixes_a_variable_and_moves_the_token_past_the_failed_lookup(
    admin_page,
    cockpit,  # noqa: F811  (the fixture imported above)
    screenshot,
):
    page, base, errors = admin_page
    _, runtime = cockpit
    instance_id = application(runtime, "wrong")
    key = runtime.instance(instance_id).business_key
    page.goto(f"{base}/admin/instances?incident=1")
    page.click(f"text={key}")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]", timeout=60_000)
    lookup = page.locator('g.djs-element[data-element-id="Task_Lookup"]')
    assert "marker-failed" in lookup.get_attribute("class")
    assert no_horizontal_scroll(page)
    screenshot(page, "cockpit-instance")

    page.fill("#variable-name", "who")
    page.fill("#variable-value", '"anna"')
    page.fill("#variable-reason", "the applicant's name was mistyped")
    page.click("#variables button[type=submit]")
    page.wait_for_selector("text=Variable who set.")
    assert runtime.instance(instance_id).data["who"] == "anna"

    page.check("#tokens input[name=cancel] >> nth=0")
    page.select_option("#start-after", "Task_Lookup")
    page.fill("#modification-reason", "looked up by phone with the registry")
    page.click("#tokens button[type=submit]")
    page.wait_for_selector("#preview")
    assert "Review" in page.locator("#preview").inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "cockpit-preview")
    page.click("text=Apply the modification")
    page.wait_for_selector(f"text=Instance {instance_id} modified.")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]", timeout=60_000)
    assert [t.bpmn_id for t in runtime.instance(instance_id).ready_tasks] == ["Task_Review"]
    assert no_horizontal_scroll(page)
    screenshot(page, "cockpit-repaired")
    assert errors == []


def test_batch_retry_shows_its_progress_and_each_result(
    admin_page,
    cockpit,  # noqa: F811  (the fixture imported above)
    screenshot,
):
    page, base, errors = admin_page
    _, runtime = cockpit
    for _ in range(3):
        application(runtime, "wrong")
    page.goto(f"{base}/admin/instances?incident=1")
    page.click("text=Retry these in a batch")
    page.click("#batch-run")
    page.wait_for_selector("#batch[data-state=done]", timeout=60_000)
    assert page.locator("#batch-results tbody tr").count() == 3
    assert page.locator("#batch-progress").get_attribute("value") == "3"
    assert "failed again" in page.locator("#batch-results").inner_text()
    assert no_horizontal_scroll(page)
    screenshot(page, "cockpit-batch")
    assert errors == []


def test_an_opened_incident_trace_keeps_the_incidents_page_within_the_screen(
    admin_page,
    cockpit,  # noqa: F811  (the fixture imported above)
    screenshot,
):
    page, base, errors = admin_page
    _, runtime = cockpit
    application(runtime, "wrong")
    page.goto(f"{base}/admin/")
    page.click("details summary")
    page.wait_for_selector("pre.trace", state="visible")
    assert no_horizontal_scroll(page)
    assert page.evaluate("document.documentElement.scrollHeight") < 2000
    screenshot(page, "cockpit-incidents")
    assert errors == []
