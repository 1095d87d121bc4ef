"""The channel policy before an application is signed: the process's own decision table."""

from dataclasses import dataclass
from types import SimpleNamespace

from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, DeploymentFile, ProcessVersion
from webapp.runtime.deployments import IN_EFFECT

POLICY_FILE = "channel_policy.dmn"
POLICY_DECISION = "channel_policy"


@dataclass(frozen=True)
class ChannelDecision:
    """Whether the channel accepts the applicant type, and the refusal code when it does not."""

    accepted: bool
    refusal_reason: str | None


def _policy_xml(session: Session, process_id: str) -> bytes | None:
    """Return the channel policy table of the newest version in effect of the process."""
    deployment_id = session.scalar(
        select(ProcessVersion.deployment_id)
        .join(Deployment, IN_EFFECT)
        .where(ProcessVersion.process_id == process_id)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if deployment_id is None:
        return None
    return session.scalar(
        select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment_id, DeploymentFile.name == POLICY_FILE
        )
    )


def channel_decision(
    session: Session, process_id: str, channel: str, applicant_type: str
) -> ChannelDecision:
    """Evaluate the deployed channel policy for this channel and applicant type.

    A process deployed without the table accepts every applicant: the process decides then.
    """
    content = _policy_xml(session, process_id)
    if content is None:
        return ChannelDecision(True, None)
    parser = BpmnDmnParser()
    parser.add_dmn_xml(etree.fromstring(content, etree.XMLParser(resolve_entities=False)))
    engine = parser.get_engine(POLICY_DECISION, None)
    task = SimpleNamespace(
        data={"channel": channel, "applicant_type": applicant_type},
        workflow=SimpleNamespace(script_engine=PythonScriptEngine()),
    )
    result = engine.result(task)
    return ChannelDecision(bool(result.get("channel_accepted")), result.get("refusal_reason"))
