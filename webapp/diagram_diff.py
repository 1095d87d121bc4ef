"""Compare two versions of a diagram element by element: what was added, removed and changed.

Each changed element says what changed: its attributes (before → after) and the text inside
it (a script, a condition, an extension's value) as a line diff. A decision table's rule is
one element with its cells: a changed rule lists its cells before and after, by column.
"""

import difflib
from dataclasses import dataclass

from lxml import etree

from webapp.runtime.xmlsafe import parse_xml

# Elements of the process are in these namespaces; layout (DI) is not, and moving a shape is
# not a change. Extensions (a service operator, its parameters) carry ids too, but belong to
# the element that holds them.
MODEL_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)
LAYOUT_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/",
)
# A rule's cells carry ids of their own but are part of the rule: they are compared with it.
CELLS = ("inputEntry", "outputEntry", "annotationEntry")


@dataclass(frozen=True)
class AttributeChange:
    """One attribute, or one piece of text, of an element: before and after (None if absent).

    `diff` holds the unified line diff of a text that spans several lines, else is empty.
    """

    name: str
    before: str | None
    after: str | None
    diff: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleRow:
    """A decision rule's cells (inputs, then outputs) as one version has them."""

    number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class ElementChange:
    """What changed in one element present in both versions.

    For a decision rule, `rule_before` and `rule_after` hold its cells under `columns`, its
    table's inputs and outputs.
    """

    id: str
    element_type: str
    name: str | None
    changes: tuple[AttributeChange, ...]
    rule_before: RuleRow | None = None
    rule_after: RuleRow | None = None
    columns: tuple[str, ...] = ()

    @property
    def changed_cells(self) -> frozenset[int]:
        """Return the columns of a rule whose cell differs between the versions."""
        if self.rule_before is None or self.rule_after is None:
            return frozenset()
        pairs = zip(self.rule_before.cells, self.rule_after.cells, strict=False)
        return frozenset(i for i, (a, b) in enumerate(pairs) if a != b)


@dataclass(frozen=True)
class DiagramDiff:
    """The ids of the elements added, removed and changed between two versions, with details.

    `details` says what changed in each changed element, in the order of `changed`.
    """

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    details: tuple[ElementChange, ...] = ()

    def as_markers(self) -> dict[str, list[str]]:
        """Return the diff in the shape of the viewer's `data-diff` attribute."""
        return {kind: list(getattr(self, kind)) for kind in ("added", "removed", "changed")}

    @property
    def empty(self) -> bool:
        """Tell whether the two versions have the same elements."""
        return not (self.added or self.removed or self.changed)


def _is_layout(element) -> bool:
    return etree.QName(element).namespace in LAYOUT_NAMESPACES


def _is_model(element) -> bool:
    return etree.QName(element).namespace in MODEL_NAMESPACES


def _local(element) -> str:
    return etree.QName(element).localname


def _own_content(element) -> etree._Element:
    """Return a copy of the element without the children that are elements of their own."""
    copy = etree.fromstring(etree.tostring(element))
    for child in list(copy.iter()):
        if child is copy:
            continue
        # Comments, processing instructions, layout and elements compared on their own go.
        if not isinstance(child.tag, str) or _is_layout(child) or _compared(child):
            child.getparent().remove(child)
    for node in copy.iter():
        node.text = (node.text or "").strip() or None
        node.tail = (node.tail or "").strip() or None
    return copy


def _signature(element) -> bytes:
    """Return the element's own content: tag, attributes, extensions, text and its cells."""
    return etree.tostring(_own_content(element), method="c14n")


def _compared(element) -> bool:
    """Tell whether an element is compared on its own: a model element with an id, not a cell."""
    return (
        isinstance(element.tag, str)
        and bool(element.get("id"))
        and _is_model(element)
        and _local(element) not in CELLS
    )


def _nodes(content: bytes) -> dict[str, etree._Element]:
    """Return each compared element of a document by id."""
    return {e.get("id"): e for e in parse_xml(content).iter() if _compared(e)}


def elements(content: bytes) -> dict[str, bytes]:
    """Return each semantic element's id with its signature."""
    return {id_: _signature(element) for id_, element in _nodes(content).items()}


def _fields(element) -> dict[str, str]:
    """Return an element's attributes and the text and attributes of what it holds, by path."""
    found = {_attribute_name(name): value for name, value in element.attrib.items()}
    content = _own_content(element)
    counts: dict[str, int] = {}
    for node in content.iter():
        if node is content:
            continue
        path = "/".join(_local(n) for n in reversed(list(node.iterancestors())) if n is not content)
        path = f"{path}/{_local(node)}" if path else _local(node)
        counts[path] = counts.get(path, 0) + 1
        # A property or a parameter is called by its name (a parameter's id is its name).
        label = node.get("name") or (node.get("id") if _local(node) == "parameter" else None)
        key = f"{path}[{label}]" if label else path
        key = key if counts[path] == 1 or label else f"{path}[{counts[path]}]"
        if node.text:
            found[key] = node.text
        for name, value in node.attrib.items():
            found[f"{key}@{_attribute_name(name)}"] = value
    return found


def _attribute_name(name: str) -> str:
    return etree.QName(name).localname if name.startswith("{") else name


def _change(name: str, before: str | None, after: str | None) -> AttributeChange:
    """Return one field's change, with a line diff when either side spans several lines."""
    if "\n" not in f"{before or ''}{after or ''}":
        return AttributeChange(name, before, after)
    lines = difflib.unified_diff(
        (before or "").splitlines(), (after or "").splitlines(), lineterm="", n=2
    )
    # The two header lines name no files here: the field's name says what is compared.
    return AttributeChange(name, before, after, tuple(lines)[2:])


def _rule_row(element) -> RuleRow:
    """Return a rule's cells and its number in its table (from 1)."""
    cells = tuple("".join(cell.itertext()).strip() for cell in element if _local(cell) in CELLS[:2])
    rules = [r for r in element.getparent() if isinstance(r.tag, str) and _local(r) == "rule"]
    return RuleRow(rules.index(element) + 1, cells)


def _columns(table) -> tuple[str, ...]:
    """Return the labels of a decision table's inputs and outputs."""
    return tuple(
        column.get("label") or column.get("name") or column.get("id")
        for column in table
        if isinstance(column.tag, str) and _local(column) in ("input", "output")
    )


def _description(element) -> str | None:
    """Return the text of an element's description (a rule's), if it has one."""
    for child in element:
        if isinstance(child.tag, str) and _local(child) == "description" and child.text:
            return child.text.strip()
    return None


def element_change(old, new) -> ElementChange:
    """Return what changed in one element between two versions."""
    before, after = _fields(old), _fields(new)
    changes = tuple(
        _change(key, before.get(key), after.get(key))
        for key in dict.fromkeys([*before, *after])
        if before.get(key) != after.get(key) and _local(new) != "rule"
    )
    rule = _local(new) == "rule"
    return ElementChange(
        id=new.get("id"),
        element_type=_local(new),
        name=new.get("name") or new.get("label") or _description(new),
        changes=changes,
        rule_before=_rule_row(old) if rule else None,
        rule_after=_rule_row(new) if rule else None,
        columns=_columns(new.getparent()) if rule else (),
    )


def diff_diagrams(old: bytes, new: bytes) -> DiagramDiff:
    """Compare two BPMN or DMN documents by element id."""
    before, after = _nodes(old), _nodes(new)
    both = sorted(before.keys() & after.keys())
    changed = tuple(k for k in both if _signature(before[k]) != _signature(after[k]))
    return DiagramDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=changed,
        details=tuple(element_change(before[k], after[k]) for k in changed),
    )
