"""Bundle checks the editor, `tirkeu validate` and deployment share: drawings, calls, test files."""

import re
from pathlib import Path

import pytest

from service_tasks.identifiers import SCHEMA_FORMATS
from webapp.bootstrap import bundles, read_bundle
from webapp.runtime.errors import InvalidDiagram
from webapp.runtime.forms import FORMATS
from webapp.runtime.specs import parse_bundle

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = Path(__file__).with_name("diagrams")
REGISTRATION = ROOT / "processes" / "residence_registration"
BPMN_FILE = "residence_registration.bpmn"
# The registration's forms use the product's `iin` format.
REGISTRATION_FORMATS = FORMATS | set(SCHEMA_FORMATS)


def registration() -> dict[str, bytes]:
    """Return the registration bundle as deployed from its folder."""
    return read_bundle(bundles([REGISTRATION])[0])


def accept_anything(**_parameters) -> dict:
    return {}


def registration_operators() -> dict:
    """Return an operator table with every operator the registration calls."""
    names = re.findall(rb'serviceTaskOperator id="([^"]+)"', registration()[BPMN_FILE])
    return {name.decode(): accept_anything for name in names}


def problems(files: dict[str, bytes], operators: dict | None = None) -> list:
    with pytest.raises(InvalidDiagram) as refused:
        parse_bundle(files, operators or {}, REGISTRATION_FORMATS)
    return refused.value.problems


def test_a_flow_node_without_a_shape_is_named_with_what_to_do():
    files = registration()
    shape = rb'<bpmndi:BPMNShape id="[^"]*" bpmnElement="Task_CheckDocuments".*?</bpmndi:BPMNShape>'
    files[BPMN_FILE] = re.sub(shape, b"", files[BPMN_FILE], flags=re.S)
    [problem] = problems(files, registration_operators())
    assert (problem.file, problem.element) == (BPMN_FILE, "Task_CheckDocuments")
    assert problem.line and "has no shape" in problem.message and "modeler" in problem.message


def test_diagrams_without_any_drawing_still_deploy():
    bundle = parse_bundle({"exclusive.bpmn": (DIAGRAMS / "exclusive.bpmn").read_bytes()}, {})
    assert bundle.processes


def test_a_missing_called_process_says_to_add_its_file():
    [problem] = problems({"call_parent.bpmn": (DIAGRAMS / "call_parent.bpmn").read_bytes()})
    assert "call_child" in problem.message and "add the BPMN file" in problem.message


def test_a_missing_decision_says_to_add_its_file():
    [problem] = problems({"decision.bpmn": (DIAGRAMS / "decision.bpmn").read_bytes()})
    assert problem.element == "Task_Decide" and "add the DMN file" in problem.message


def test_process_test_cases_beside_the_diagram_are_accepted_in_the_bundle():
    files = registration()
    assert "test_residence_registration.json" in files
    bundle = parse_bundle(files, registration_operators(), REGISTRATION_FORMATS)
    assert "residence_registration" in bundle.processes


def test_a_start_form_is_checked_like_a_task_form():
    files = registration()
    files["application.schema.json"] = files["application.schema.json"].replace(
        b'"format": "iin"', b'"format": "passport"', 1
    )
    [problem] = problems(files, registration_operators())
    assert problem.element == "StartEvent_ApplicationSubmitted"
    assert "format 'passport' is not one of" in problem.message
    del files["application.schema.json"]
    [problem] = problems(files, registration_operators())
    assert "form file 'application.schema.json' is not in the bundle" in problem.message


def test_the_product_formats_are_refused_where_the_runtime_is_not_given_them():
    with pytest.raises(InvalidDiagram) as refused:
        parse_bundle(registration(), registration_operators())
    assert "format 'iin' is not one of ['date', 'email']" in str(refused.value)
