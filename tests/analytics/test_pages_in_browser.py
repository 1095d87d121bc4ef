"""In Chromium: an analyst finds an application, sees its path and timeline, then the heatmap."""


def test_analyst_finds_an_application_and_sees_its_path_and_timeline(
    analyst_page, history, screenshot
):
    page, base = analyst_page
    page.goto(f"{base}/analytics/")
    page.fill("#q", "A-0003")
    page.click("form.filters button[type=submit]")
    page.click("text=A-0003")
    page.wait_for_selector("#instance-diagram[data-diagram-state=ready]")
    refused = page.locator('g.djs-element[data-element-id="Task_Refuse"]')
    approve = page.locator('g.djs-element[data-element-id="Task_Approve"]')
    assert "marker-completed" in refused.get_attribute("class")
    assert "marker-completed" not in approve.get_attribute("class")
    taken = page.locator('g.djs-element[data-element-id="Flow_ToRefuse"]')
    assert "marker-completed" in taken.get_attribute("class")
    assert page.locator("table.timeline tbody tr").count() == 9
    screenshot(page, "instance")


def test_dashboard_renders_its_heatmap_and_charts(analyst_page, screenshot):
    page, base = analyst_page
    page.goto(
        f"{base}/analytics/dashboard?process=review&version=1&since=2026-11-02&until=2026-11-03"
    )
    page.wait_for_selector("#dashboard-diagram[data-diagram-state=ready]")
    badge = page.locator('.djs-overlays[data-container-id="Task_Approve"] .diagram-count')
    assert badge.text_content() == "3"
    assert badge.get_attribute("title") == "3 · mean 10m · p90 15m"
    assert page.locator("svg.chart").count() == 4
    screenshot(page, "dashboard")
