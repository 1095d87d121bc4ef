"""Static checks of the residence registration diagrams, decision tables and forms."""

import ast
import itertools
import json
import re

import jsonschema
import pytest
from lxml import etree

from service_tasks.identifiers import SCHEMA_FORMATS
from service_tasks.operators import build_operators
from tests.processes.driver import PROCESSES
from webapp.bootstrap import bundles, read_bundle
from webapp.runtime.forms import FORMATS
from webapp.runtime.specs import parse_bundle
from webapp.settings import REGISTRY_WRITERS

FOLDER = PROCESSES / "residence_registration"
BPMN = FOLDER / "residence_registration.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
}
OPERATORS = {
    "population.person",
    "mobile.phone",
    "address.premises",
    "realestate.title",
    "consular.deregistration",
    "registration.register",
    "registration.close",
    "idcard.rewrite_address",
    "notify.send",
}
FLOW_NODES = [
    "startEvent",
    "endEvent",
    "boundaryEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "subProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
]
UNARY_TEST = re.compile(r'^(-|"[^"]*"|True|False|None|(<|<=|>|>=) -?\d+(\.\d+)?)$')


@pytest.fixture(scope="module")
def bpmn():
    return etree.parse(str(BPMN))


def flow_nodes(tree):
    return [n for tag in FLOW_NODES for n in tree.iterfind(f".//bpmn:{tag}", NS)]


def bounds(tree):
    found = {}
    for shape in tree.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        found[shape.get("bpmnElement")] = tuple(
            float(b.get(k)) for k in ("x", "y", "width", "height")
        )
    return found


def test_diagram_and_decision_tables_pass_the_runtime_checks(registry_url):
    [files] = bundles([FOLDER])
    operators = build_operators({"registry_mode": "sandbox", "registry_url": registry_url})
    parsed = parse_bundle(
        read_bundle(files), operators, FORMATS | set(SCHEMA_FORMATS), REGISTRY_WRITERS
    )
    [process] = parsed.processes.values()
    assert process.spec.name == "residence_registration"
    assert set(process.subprocess_specs) == {"Subprocess_Consents"}


def test_every_flow_node_lane_and_pool_has_a_shape(bpmn):
    shapes = bounds(bpmn)
    ids = [n.get("id") for n in flow_nodes(bpmn)]
    ids += [lane.get("id") for lane in bpmn.iterfind(".//bpmn:lane", NS)]
    ids += [p.get("id") for p in bpmn.iterfind(".//bpmn:participant", NS)]
    assert [i for i in ids if i not in shapes] == []


def test_every_sequence_flow_has_an_edge_with_waypoints(bpmn):
    edges = {e.get("bpmnElement"): e for e in bpmn.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in bpmn.iterfind(".//bpmn:sequenceFlow", NS):
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2, flow.get("id")


def test_shapes_do_not_overlap(bpmn):
    shapes = bounds(bpmn)
    nodes = {n.get("id"): n for n in flow_nodes(bpmn)}
    inner = {n.get("id") for n in bpmn.iterfind(".//bpmn:subProcess//*[@id]", NS)}

    def overlap(a, b):
        ax, ay, aw, ah = shapes[a]
        bx, by, bw, bh = shapes[b]
        return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah

    clashes = []
    for a, b in itertools.combinations(nodes, 2):
        hosts = {nodes[a].get("attachedToRef"), nodes[b].get("attachedToRef")}
        if a in hosts or b in hosts:
            continue
        if {a, b} & inner and "Subprocess_Consents" in (a, b):
            continue
        if overlap(a, b):
            clashes.append((a, b))
    assert clashes == []


def test_lanes_name_the_roles_and_hold_every_top_level_node(bpmn):
    lanes = {lane.get("name") for lane in bpmn.iterfind(".//bpmn:lane", NS)}
    assert lanes == {"Applicant", "Owner", "Clerk", "Supervisor", "System"}
    in_lanes = {ref.text for ref in bpmn.iterfind(".//bpmn:flowNodeRef", NS)}
    process = bpmn.find("bpmn:process", NS)
    top = {n.get("id") for tag in FLOW_NODES for n in process.iterfind(f"bpmn:{tag}", NS)}
    assert top == in_lanes


def test_element_ids_are_meaningful(bpmn):
    pattern = re.compile(
        r"^(StartEvent|End|Event|Task|Gateway|Subprocess|Flow|Lane|LaneSet|Participant|"
        r"Collaboration|Definitions|Error|ErrorEventDefinition|TimerEventDefinition|"
        r"TerminateEventDefinition|Diagram|Plane)_[A-Z][A-Za-z]+(_di)?$"
    )
    # data items, operators and parameters are named by the contract, not by the diagram
    variables = {
        "process",
        "property",
        "inputDataItem",
        "outputDataItem",
        "parameter",
        "serviceTaskOperator",
    }
    ids = [
        e.get("id")
        for e in bpmn.iter()
        if e.get("id") and etree.QName(e).localname not in variables
    ]
    assert [i for i in ids if not pattern.match(i)] == []


def test_service_tasks_name_operators_of_the_contract(bpmn):
    used = {op.get("id") for op in bpmn.iterfind(".//spiffworkflow:serviceTaskOperator", NS)}
    assert used <= OPERATORS


def test_every_user_task_has_a_valid_form_with_titles_and_descriptions(bpmn):
    for task in bpmn.iterfind(".//bpmn:userTask", NS):
        props = {
            p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)
        }
        schema = json.loads((FOLDER / props["formJsonSchemaFilename"]).read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["title"] and schema["description"]
        for name, field in schema["properties"].items():
            assert field["type"] in {"string", "integer", "number", "boolean"}, name
            assert field["title"] and field["description"], name
        ui = json.loads((FOLDER / props["formUiSchemaFilename"]).read_text())
        # Read-only fields are the case's own data, shown by no form.
        filled = {n for n, f in schema["properties"].items() if not f.get("readOnly")}
        assert set(ui["ui:order"]) == filled
        assert task.find(".//spiffworkflow:instructionsForEndUser", NS).text


@pytest.mark.parametrize("dmn", sorted(FOLDER.glob("*.dmn")), ids=lambda p: p.name)
def test_decision_tables_use_first_hit_unary_tests_and_python_outputs(dmn):
    tree = etree.parse(str(dmn))
    for table in tree.iterfind(".//dmn:decisionTable", NS):
        assert table.get("hitPolicy") == "FIRST"
        for entry in table.iterfind(".//dmn:inputEntry/dmn:text", NS):
            assert UNARY_TEST.match(entry.text), entry.text
        for entry in table.iterfind(".//dmn:outputEntry/dmn:text", NS):
            ast.parse(entry.text, mode="eval")
            assert "true" not in entry.text.split() and "false" not in entry.text.split()
