"""The modeler keeps SpiffWorkflow extensions intact, and its properties panel edits them."""

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from .diagram_pages import REPO_ROOT, open_ready

SAMPLE = REPO_ROOT / "tests" / "browser" / "pages" / "sample.bpmn"
SAMPLE_DMN = SAMPLE.with_suffix(".dmn")
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}


def parse(xml: str | bytes) -> etree._Element:
    """Parse BPMN XML ignoring layout whitespace."""
    data = xml.encode() if isinstance(xml, str) else xml
    return etree.fromstring(data, etree.XMLParser(remove_blank_text=True))


def extensions_by_owner(root: etree._Element) -> dict[str, bytes]:
    """Return each extensionElements block, canonicalised, keyed by its owner's id."""
    return {
        node.getparent().get("id"): etree.tostring(node, method="c14n", exclusive=True)
        for node in root.iterfind(".//bpmn:extensionElements", NS)
    }


def exported_xml(page) -> str:
    """Return the editor's current diagram as saveXML({format: true}) gives it."""
    return page.evaluate(
        """async () => {
            const { editorOf } = await import("/static/js/diagram-editor.js");
            const { xml } = await editorOf(document.getElementById("editor")).saveXML(
                { format: true });
            return xml;
        }"""
    )


def select(page, element_id: str) -> None:
    """Click an element on the canvas and wait for the panel to show it."""
    page.locator(f".djs-element.djs-shape[data-element-id='{element_id}']").click()
    page.wait_for_selector(f".properties-panel[data-element-id='{element_id}']")


def commit(page, selector: str, value: str) -> None:
    """Type a value into a panel field and leave it, which commits the edit."""
    field = page.locator(f".properties-panel {selector}")
    field.fill(value)
    field.press("Tab")


def test_spiffworkflow_extensions_survive_import_and_export_unchanged(page, static_server):
    open_ready(page, f"{static_server.url}/pages/editor.html")
    original = extensions_by_owner(parse(SAMPLE.read_bytes()))
    exported = extensions_by_owner(parse(exported_xml(page)))
    assert set(original) == {
        "Task_FillApplication",
        "Task_FetchPerson",
        "Task_CheckAge",
        "Task_ComputeTerm",
        "MessageEventDefinition_OwnerConsent",
        "Task_VerifyDocuments",
    }
    assert exported == original


def test_properties_panel_renames_a_task_and_sets_its_service_operator(page, harness, screenshot):
    harness.answers["/save"] = (
        200,
        {
            "problems": [
                {
                    "file": "sample.bpmn",
                    "line": 40,
                    "element": "Task_VerifyDocuments",
                    "message": "form file check_documents.schema.json is missing",
                }
            ],
            "deployed": [],
        },
    )
    open_ready(page, f"{harness.url}/pages/editor.html")

    select(page, "Task_FetchPerson")
    assert page.locator(".properties-panel input[name=lane]").input_value() == "System"
    commit(page, "input[name=name]", "Look up the premises")
    page.locator(".properties-panel [data-action=remove-parameter]").click()
    page.locator(".properties-panel select[name=operator]").select_option("address.premises")
    assert page.locator(".properties-panel input[name=parameter-id]").input_value() == "arc"
    commit(page, "input[name=parameter-value]", "premises_arc")
    commit(page, "input[name=resultVariable]", "premises")
    screenshot(page, "editor-service-task")

    select(page, "Task_VerifyDocuments")
    commit(page, "input[name=formJsonSchemaFilename]", "application.schema.json")
    commit(page, "textarea[name=instructions]", "Check the documents of {{ person_iin }}")
    screenshot(page, "editor-panel")

    page.locator("[data-action=save]").click()
    page.wait_for_selector(".save-results[data-outcome=problems]")
    screenshot(page, "editor-saved-with-problems")
    page.locator(".save-results .problem-element").click()
    page.wait_for_selector(".properties-panel[data-element-id='Task_VerifyDocuments']")

    [posted] = harness.posted
    assert posted.path == "/save"
    assert posted.headers["X-CSRFToken"] == "harness-csrf-token"
    assert posted.headers["Content-Type"] == "application/xml"
    root = parse(posted.body)
    task = root.find(".//bpmn:serviceTask[@id='Task_FetchPerson']", NS)
    assert task.get("name") == "Look up the premises"
    operator = task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    assert operator.get("id") == "address.premises"
    assert operator.get("resultVariable") == "premises"
    parameters = [
        dict(p.attrib)
        for p in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS)
    ]
    assert parameters == [{"id": "arc", "type": "str", "value": "premises_arc"}]
    assert operator.find("spiffworkflow:retry", NS).attrib == {"retries": "3", "backoff_base": "2"}

    user_task = root.find(".//bpmn:userTask[@id='Task_VerifyDocuments']", NS)
    properties = {
        p.get("name"): p.get("value") for p in user_task.iterfind(".//spiffworkflow:property", NS)
    }
    assert properties == {
        "formJsonSchemaFilename": "application.schema.json",
        "dueIn": 'config("service_term")',
    }
    instructions = user_task.find(".//spiffworkflow:instructionsForEndUser", NS)
    assert instructions.text == "Check the documents of {{ person_iin }}"


def spiff_spec(xml: str):
    """Parse exported XML with SpiffWorkflow's own parser, as the runtime will."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode(), "exported.bpmn")
    parser.add_dmn_file(str(SAMPLE_DMN))
    return parser.get_spec("Process_Sample")


def test_spiffworkflow_reads_what_the_panel_wrote(page, static_server):
    open_ready(page, f"{static_server.url}/pages/editor.html")
    select(page, "Task_FetchPerson")
    page.locator(".properties-panel [data-action=add-parameter]").click()
    rows = page.locator(".properties-panel tr[data-parameter-index='1']")
    for name, value in (("id", "arc"), ("value", "premises_arc")):
        field = rows.locator(f"input[name=parameter-{name}]")
        field.fill(value)
        field.press("Tab")
    spec = spiff_spec(exported_xml(page))
    fetch = spec.task_specs["Task_FetchPerson"]
    assert fetch.operation_name == "population.person"
    assert fetch.result_variable == "person"
    assert fetch.operation_params == {
        "iin": {"value": "person_iin", "type": "str"},
        "arc": {"value": "premises_arc", "type": "str"},
    }
    fill = spec.task_specs["Task_FillApplication"].extensions
    assert fill["properties"]["formJsonSchemaFilename"] == "application.schema.json"
    assert fill["instructionsForEndUser"] == (
        "Enter the address of the premises for {{ person_iin }} & attach the <title>."
    )


def test_deploy_button_posts_to_the_deploy_url_and_lists_what_awaits_approval(page, harness):
    deployed = {"process": "Process_Sample", "version": 2, "status": "pending",
                "review_url": "/processes/deployments/7"}  # fmt: skip
    harness.answers["/deploy"] = (200, {"problems": [], "deployed": [deployed]})
    open_ready(page, f"{harness.url}/pages/editor.html")
    page.locator("[data-action=deploy]").click()
    page.wait_for_selector(".save-results[data-outcome=ok]")
    [item] = page.locator(".save-results .deployed li").all()
    assert item.locator("span").inner_text() == (
        "Version 2 of Process_Sample is saved and awaits approval by another process owner;"
        " running instances are not affected until then."
    )
    assert page.locator(".save-results a.review-link").get_attribute("href") == (
        "/processes/deployments/7"
    )
    assert [p.path for p in harness.posted] == ["/deploy"]


def test_dmn_editor_saves_the_decision_table(page, harness, screenshot):
    open_ready(page, f"{harness.url}/pages/dmn-editor.html")
    assert page.locator(".dmn-decision-table-container").count() == 1
    screenshot(page, "dmn-editor")
    page.locator("[data-action=save]").click()
    page.wait_for_selector(".save-results[data-outcome=ok]")
    [posted] = harness.posted
    root = etree.fromstring(posted.body.encode())
    rules = root.findall(".//{https://www.omg.org/spec/DMN/20191111/MODEL/}rule")
    assert [rule.get("id") for rule in rules] == ["Rule_Minor", "Rule_Adult"]


@pytest.mark.parametrize("harness_page", ["editor.html", "dmn-editor.html"])
def test_bpmn_io_watermark_stays_visible_in_the_modelers(page, static_server, harness_page):
    open_ready(page, f"{static_server.url}/pages/{harness_page}")
    assert page.locator("#editor .bjs-powered-by").first.is_visible()


def test_clicking_an_event_label_shows_the_event(page, static_server):
    open_ready(page, f"{static_server.url}/pages/editor.html")
    page.locator(".djs-element.djs-shape[data-element-id='Event_OwnerConsent_label']").click()
    page.wait_for_selector(".properties-panel[data-element-id='Event_OwnerConsent']")
    assert page.locator(".properties-panel input[name=name]").input_value() == "Owner consents"


def test_one_undo_reverts_a_whole_panel_edit(page, static_server):
    open_ready(page, f"{static_server.url}/pages/editor.html")
    before = extensions_by_owner(parse(exported_xml(page)))
    select(page, "Task_FetchPerson")
    page.locator(".properties-panel [data-action=remove-parameter]").click()
    page.locator(".properties-panel select[name=operator]").select_option("registration.close")
    assert page.locator(".properties-panel input[name=parameter-id]").count() == 2
    page.evaluate(
        """async () => {
            const { editorOf } = await import("/static/js/diagram-editor.js");
            const stack = editorOf(document.getElementById("editor")).get("commandStack");
            stack.undo();
            stack.undo();
        }"""
    )
    assert extensions_by_owner(parse(exported_xml(page))) == before
    assert (
        page.locator(".properties-panel select[name=operator]").input_value() == "population.person"
    )


def test_dmn_xml_view_round_trips_into_the_decision_table(page, harness):
    open_ready(page, f"{harness.url}/pages/dmn-editor.html")
    page.locator("[data-view=xml]").click()
    source = page.locator("textarea.xml-source")
    text = source.input_value()
    assert "Rule_Minor" in text
    source.fill(text.replace('id="Rule_Minor"', 'id="Rule_Young"'))
    page.locator("[data-view=diagram]").click()
    page.wait_for_selector("[data-dmn-editor][data-view=diagram]")
    assert page.locator(".dmn-decision-table-container [data-row-id='Rule_Young']").count() > 0
    page.locator("[data-action=save]").click()
    page.wait_for_selector(".save-results[data-outcome=ok]")
    [posted] = harness.posted
    assert 'id="Rule_Young"' in posted.body
