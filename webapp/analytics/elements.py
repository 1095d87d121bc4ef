"""What the diagrams of some process versions say of their elements: type and name by id."""

from dataclasses import dataclass
from functools import lru_cache

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import DeploymentFile, ProcessVersion
from webapp.runtime.xmlsafe import parse_xml

BPMN_NAMESPACE = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# Element types whose figures say little on their own: they pass a token on in no time.
MINOR_SUFFIXES = ("Gateway", "Event")


@dataclass(frozen=True)
class ElementInfo:
    """An element as its diagram draws it: BPMN type (`userTask`) and name, if it has one."""

    element_type: str
    name: str | None

    @property
    def minor(self) -> bool:
        """Tell whether the element is a gateway or an event, folded away by default."""
        return self.element_type.endswith(MINOR_SUFFIXES)

    @property
    def type_label(self) -> str:
        """Return the type in words: `exclusiveGateway` is `Exclusive gateway`."""
        words = "".join(f" {c.lower()}" if c.isupper() else c for c in self.element_type)
        return words[:1].upper() + words[1:]


# A deployed file never changes: its elements are read once per process, not per dashboard.
@lru_cache(maxsize=64)
def diagram_elements(content: bytes) -> dict[str, ElementInfo]:
    """Return the flow elements of a BPMN document by id (the caller must not change it)."""
    found = {}
    for element in parse_xml(content).getroot().iter(f"{{{BPMN_NAMESPACE}}}*"):
        parent = element.getparent()
        if element.get("id") and parent is not None and parent.tag.endswith(("process", "Process")):
            name = (element.get("name") or "").strip() or None
            found[element.get("id")] = ElementInfo(etree.QName(element).localname, name)
    return found


def version_elements(session: Session, version_ids: list[int]) -> dict[str, ElementInfo]:
    """Return the elements of the versions' BPMN files by id; the later version names them.

    `version_ids` are in the order the versions were deployed.
    """
    deployments = [
        deployment
        for (deployment,) in session.execute(
            select(ProcessVersion.deployment_id)
            .where(ProcessVersion.id.in_(version_ids))
            .order_by(ProcessVersion.version)
        )
    ]
    found: dict[str, ElementInfo] = {}
    for deployment in dict.fromkeys(deployments):
        for (content,) in session.execute(
            select(DeploymentFile.content).where(
                DeploymentFile.deployment_id == deployment, DeploymentFile.name.like("%.bpmn")
            )
        ):
            found.update(diagram_elements(content))
    return found
