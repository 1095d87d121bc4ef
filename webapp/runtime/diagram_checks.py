"""A bundle's problems, each located at its file and line, and the checks of the diagrams' XML.

The checks made on the XML before SpiffWorkflow parses it: sequence flows whose ends are no
element of their process, flow nodes the diagram draws no shape for. SpiffWorkflow's own errors
become problems too, with what to do about a missing file.
"""

from .errors import Problem
from .scripting import check_source

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
FLOW_NODE_TAGS = frozenset(
    f"{{{BPMN}}}{tag}"
    for tag in (
        "startEvent", "endEvent", "boundaryEvent", "intermediateCatchEvent",
        "intermediateThrowEvent", "task", "userTask", "serviceTask", "scriptTask",
        "businessRuleTask", "manualTask", "sendTask", "receiveTask", "callActivity",
        "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway",
        "parallelGateway", "eventBasedGateway", "complexGateway",
    )
)  # fmt: skip
# SpiffWorkflow's messages about what a bundle lacks, and what to do about it.
MISSING_HINTS = (
    ("was not found", "add the BPMN file that defines the called process to the bundle"),
    ("No DMN Diagram available", "add the DMN file that defines the decision to the bundle"),
)


class _Checker:
    """Collects problems, locating elements by id in the parsed XML."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.lines: dict[str, tuple[str, int]] = {}
        # The BPMN process each element is drawn in, whatever subprocess holds it.
        self.owners: dict[str, str] = {}

    def index(self, name: str, tree) -> None:
        for element in tree.iter():
            element_id = element.get("id") if isinstance(element.tag, str) else None
            if element_id:
                self.lines.setdefault(element_id, (name, element.sourceline))
        for process in tree.iterfind(f".//{{{BPMN}}}process"):
            for element in process.iter():
                if isinstance(element.tag, str) and element.get("id"):
                    self.owners.setdefault(element.get("id"), process.get("id"))

    def add(
        self,
        message: str,
        element: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        where_file, where_line = self.lines.get(element or "", (file or "?", line))
        self.problems.append(Problem(file or where_file, line or where_line, element, message))

    def expression(self, source: object, element: str, what: str, mode: str = "eval") -> None:
        if not isinstance(source, str) or not source.strip():
            return
        for reason in check_source(source.strip() if mode == "eval" else source, mode):
            self.add(f"{what}: {reason}", element)


def _check_diagram_interchange(check: _Checker, name: str, tree) -> None:
    """Report flow nodes without a shape, in files whose diagram draws any of their flow nodes.

    Files with no diagram of their flow nodes (written for the engine only, or exported by tools
    that name shapes after other ids) still deploy: they run the same, only no modeler draws them.
    """
    drawn = {shape.get("bpmnElement") for shape in tree.iter(f"{{{BPMNDI}}}BPMNShape")}
    nodes = [e for e in tree.iter() if e.tag in FLOW_NODE_TAGS and e.get("id")]
    if drawn.isdisjoint(node.get("id") for node in nodes):
        return
    for node in nodes:
        if node.get("id") not in drawn:
            kind = node.tag.rsplit("}", 1)[-1]
            check.add(
                f"{kind} '{node.get('id')}' has no shape in the diagram; open the file in the"
                " modeler and place it, or re-save the file from a modeler",
                node.get("id"),
                file=name,
                line=node.sourceline,
            )


def _check_flow_references(check: _Checker, name: str, tree) -> None:
    """Report each sequence flow whose source or target is no element of its process, at the
    flow's own line: SpiffWorkflow would blame the element the flow leaves instead."""
    for process in tree.iterfind(f".//{{{BPMN}}}process"):
        ids = {e.get("id") for e in process.iter() if isinstance(e.tag, str) and e.get("id")}
        for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if ref not in ids:
                    what = "source" if end == "sourceRef" else "target"
                    missing = f"'{ref}' is no element of process '{process.get('id')}'"
                    check.add(
                        f"the sequence flow's {what} {missing}" if ref else f"no {end}",
                        flow.get("id"),
                        file=name,
                        line=flow.sourceline,
                    )


def _add_spiff_problem(check: _Checker, error: Exception, name: str) -> None:
    element = getattr(error, "id", None) or None
    line = getattr(error, "line_number", None) or None
    message = str(error).split("\n")[0].strip()
    for marker, hint in MISSING_HINTS:
        if marker in message:
            message = f"{message.rstrip('. ')}: {hint}"
    check.add(
        message,
        element,
        file=getattr(error, "file_name", None) or name,
        line=int(line) if str(line or "").isdigit() else None,
    )
