"""Compare two versions of a diagram element by element: added, removed and changed ids."""

from dataclasses import dataclass

from lxml import etree

from webapp.runtime.xmlsafe import parse_xml

# Layout lives in these namespaces: moving a shape is not a change of the process.
LAYOUT_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
)


@dataclass(frozen=True)
class DiagramDiff:
    """The ids of the elements added, removed and changed between two versions."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    def as_markers(self) -> dict[str, list[str]]:
        """Return the diff in the shape of the viewer's `data-diff` attribute."""
        return {kind: list(getattr(self, kind)) for kind in ("added", "removed", "changed")}

    @property
    def empty(self) -> bool:
        """Tell whether the two versions have the same elements."""
        return not (self.added or self.removed or self.changed)


def _is_layout(element) -> bool:
    return etree.QName(element).namespace in LAYOUT_NAMESPACES


def _signature(element) -> bytes:
    """Return the element's own content: tag, attributes, extensions and text, not its children
    that carry ids of their own (those are compared separately)."""
    copy = etree.fromstring(etree.tostring(element))
    for child in list(copy.iter()):
        if child is not copy and isinstance(child.tag, str) and child.get("id"):
            child.getparent().remove(child)
        elif not isinstance(child.tag, str):
            child.getparent().remove(child)  # comments and processing instructions
    for node in copy.iter():
        node.text = (node.text or "").strip() or None
        node.tail = (node.tail or "").strip() or None
    return etree.tostring(copy, method="c14n")


def elements(content: bytes) -> dict[str, bytes]:
    """Return each semantic element's id with its signature."""
    found = {}
    for element in parse_xml(content).iter():
        if isinstance(element.tag, str) and element.get("id") and not _is_layout(element):
            found[element.get("id")] = _signature(element)
    return found


def diff_diagrams(old: bytes, new: bytes) -> DiagramDiff:
    """Compare two BPMN or DMN documents by element id."""
    before, after = elements(old), elements(new)
    return DiagramDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(k for k in before.keys() & after.keys() if before[k] != after[k])),
    )
