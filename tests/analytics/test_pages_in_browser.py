"""In Chromium at 1280 px: an analyst finds an application, reads its timeline, then the heatmap.

Each page loads with no console error or warning and is no wider than its viewport.
"""

import pytest

from webapp.web.i18n import LANGUAGE_COOKIE

from .conftest import assert_chart_texts_fit, assert_clean


def test_analyst_finds_an_application_and_reads_its_path_and_timeline(
    analyst_page, console, history, screenshot
):
    page, base = analyst_page
    page.goto(f"{base}/analytics/")
    assert_clean(page, console)
    page.fill("#q", "A-0003")
    page.click("form.filters button[type=submit]")
    page.click("text=A-0003")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]", timeout=30000)
    refused = page.locator('g.djs-element[data-element-id="Task_Refuse"]')
    approve = page.locator('g.djs-element[data-element-id="Task_Approve"]')
    assert "marker-completed" in refused.get_attribute("class")
    assert "marker-completed" not in approve.get_attribute("class")
    taken = page.locator('g.djs-element[data-element-id="Flow_ToRefuse"]')
    assert "marker-completed" in taken.get_attribute("class")
    assert page.locator("ol.timeline > li.step").count() == 9
    check = page.locator("ol.timeline > li.event-task_completed", has_text="Check documents")
    assert check.locator("table.step-changes tbody tr").all_inner_texts() == [
        "Documents ok\tnot set\tfalse",
        "Reason\tnot set\tdocuments_missing",
    ]
    raw = check.locator("details.raw-data")
    assert not raw.locator("pre").is_visible()
    raw.locator("summary").click()
    assert '"documents_ok": false' in raw.locator("pre").inner_text()
    assert_clean(page, console)
    screenshot(page, "instance")


def test_dashboard_heatmap_zooms_and_its_charts_fit(analyst_page, console, screenshot):
    page, base = analyst_page
    page.goto(f"{base}/analytics/dashboard?process=review&since=2026-11-02&until=2026-11-03")
    diagram = page.locator("#dashboard-diagram")
    page.wait_for_selector("#dashboard-diagram[data-diagram-state=ready]", timeout=30000)
    badge = page.locator('.djs-overlays[data-container-id="Task_Approve"] .diagram-count')
    assert badge.text_content() == "3"
    assert badge.get_attribute("title") == "Approve registration: 3 · mean 10m · p90 15m"
    shape = page.locator('g.djs-element[data-element-id="Task_Check"]')
    assert "heat-4" in shape.get_attribute("class")
    # Fitted to the viewport's height, so the whole heatmap is seen without scrolling.
    box = diagram.bounding_box()
    assert box["height"] <= 800 and box["height"] >= 600
    scale = "document.querySelector('#dashboard-diagram .viewport').transform.baseVal[0].matrix.a"
    before = page.evaluate(scale)
    diagram.locator("[data-zoom=zoom-in]").click()
    assert page.evaluate(scale) > before * 1.2
    diagram.locator("[data-zoom=zoom-out]").click()
    diagram.locator("[data-zoom=zoom-out]").click()
    assert page.evaluate(scale) < before
    assert page.locator("svg.chart").count() == 4
    assert page.locator("#version option:checked").inner_text() == "All versions"
    assert_chart_texts_fit(page)
    names = page.locator("table.elements tbody .element-name").all_inner_texts()
    assert names[:2] == ["Check documents", "Approve registration"]
    assert "Documents in order?" not in names
    assert_clean(page, console)
    screenshot(page, "dashboard")


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_dashboard_and_trace_read_in_kazakh_and_russian_without_overflow(
    analyst_page, console, history, screenshot, language
):
    page, base = analyst_page
    page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": language, "url": base}])
    page.goto(f"{base}/analytics/dashboard?process=review&since=2026-11-02&until=2026-11-03")
    page.wait_for_selector("#dashboard-diagram[data-diagram-state=ready]", timeout=30000)
    assert page.locator("html").get_attribute("lang") == language
    assert_chart_texts_fit(page)
    assert_clean(page, console)
    screenshot(page, f"dashboard-{language}")
    page.goto(f"{base}/analytics/instances/{history.ids[2]}")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]", timeout=30000)
    assert_clean(page, console)
    screenshot(page, f"instance-{language}")
