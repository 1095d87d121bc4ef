"""The viewer paints instance markers, count badges and diff highlights on the given ids."""

import json

from .diagram_pages import REPO_ROOT, open_ready

MARKED = {
    "completed": ["StartEvent_Applied", "Task_FillApplication", "Flow_ToFillApplication"],
    "active": ["Task_FetchPerson"],
    "failed": ["Task_CheckAge"],
    "cancelled": ["Task_ComputeTerm"],
}


def marker_classes(page, element_id: str) -> list[str]:
    """Return the marker and diff classes on an element's SVG group."""
    classes = page.get_attribute(f".djs-element[data-element-id='{element_id}']", "class")
    return sorted(c for c in classes.split() if c.startswith(("marker-", "diff-")))


def test_viewer_marks_each_state_on_the_harness_instance(page, static_server, screenshot):
    open_ready(page, f"{static_server.url}/pages/viewer.html")
    for state, ids in MARKED.items():
        for element_id in ids:
            assert marker_classes(page, element_id) == [f"marker-{state}"]
    assert marker_classes(page, "Task_VerifyDocuments") == []
    badge = page.locator(".djs-overlays[data-container-id='Task_FetchPerson'] .diagram-count")
    assert badge.text_content() == "3"
    assert badge.get_attribute("title") == "3 instances waiting here"
    assert page.locator(".dmn-decision-table-container").count() == 1
    screenshot(page, "viewer-instance")


def test_active_marker_paints_the_task_blue(page, static_server):
    open_ready(page, f"{static_server.url}/pages/viewer.html")
    stroke = page.eval_on_selector(
        ".djs-element[data-element-id='Task_FetchPerson'] .djs-visual > rect",
        "rect => getComputedStyle(rect).stroke",
    )
    assert stroke == "rgb(21, 101, 192)"


def test_viewer_highlights_a_diff_and_reports_ids_the_diagram_lacks(page, static_server):
    diff = {"added": ["Task_CheckAge"], "changed": ["Task_FetchPerson"], "removed": ["Task_Gone"]}
    page.goto(f"{static_server.url}/pages/viewer.html")
    result = page.evaluate(
        """async (diff) => {
            const viewer = await import("/static/js/diagram-viewer.js");
            const container = document.createElement("div");
            container.dataset.bpmnUrl = "/pages/sample.bpmn";
            container.dataset.diff = diff;
            document.body.append(container);
            return viewer.render(container);
        }""",
        json.dumps(diff),
    )
    assert result == {"warnings": [], "unknownIds": ["Task_Gone"]}
    classes = page.eval_on_selector_all(
        "div[data-diff] .djs-element[data-element-id^='Task_']",
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.elementId,"
        " [...n.classList].filter(c => c.startsWith('diff-'))]))",
    )
    assert classes["Task_CheckAge"] == ["diff-added"]
    assert classes["Task_FetchPerson"] == ["diff-changed"]
    assert classes["Task_VerifyDocuments"] == []


def test_bpmn_io_watermark_stays_visible(page, static_server):
    open_ready(page, f"{static_server.url}/pages/viewer.html")
    watermark = page.locator("#instance .bjs-powered-by")
    assert watermark.is_visible()
    box = watermark.bounding_box()
    assert box["width"] > 0 and box["height"] > 0


INLINE_SCRIPT = """async (xml) => {
    const viewer = await import("/static/js/diagram-viewer.js");
    const container = document.createElement("div");
    const inline = document.createElement("script");
    inline.type = "application/bpmn+xml";
    inline.textContent = xml;
    container.append(inline);
    document.body.append(container);
    const events = [];
    container.addEventListener("diagram:ready", () => events.push("ready"));
    container.addEventListener("diagram:error", (event) => events.push(event.detail.message));
    await viewer.render(container).catch(() => {});
    return { state: container.dataset.diagramState, events };
}"""


def test_inline_xml_renders_and_announces_ready(page, static_server):
    page.goto(f"{static_server.url}/pages/viewer.html")
    xml = (REPO_ROOT / "tests" / "browser" / "pages" / "sample.bpmn").read_text()
    assert page.evaluate(INLINE_SCRIPT, xml) == {"state": "ready", "events": ["ready"]}


def test_unreadable_xml_leaves_the_container_in_error_with_the_reason(page, static_server):
    page.goto(f"{static_server.url}/pages/viewer.html")
    outcome = page.evaluate(INLINE_SCRIPT, "<bpmn:definitions")
    assert outcome["state"] == "error"
    assert len(outcome["events"]) == 1 and outcome["events"][0]
