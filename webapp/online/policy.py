"""The channel policy before an application is signed: the process's own decision table."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, DeploymentFile, ProcessVersion
from webapp.runtime.decisions import decide
from webapp.runtime.deployments import IN_EFFECT
from webapp.runtime.scripting import ScriptEngine
from webapp.runtime.xmlsafe import parse_xml

POLICY_FILE = "channel_policy.dmn"
POLICY_DECISION = "channel_policy"


@dataclass(frozen=True)
class ChannelDecision:
    """Whether the channel serves the applicant type; if not, where to apply instead
    (`answer`, a channel) or, for what no channel serves, the refusal code."""

    accepted: bool
    answer: str | None
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
    session: Session,
    process_id: str,
    channel: str,
    applicant_type: str,
    application_date: str,
    script_engine: ScriptEngine,
) -> ChannelDecision:
    """Evaluate the deployed channel policy for this channel and applicant type on a date.

    Its cells run on `script_engine`, the runtime's restricted engine, as the process's own
    business rule task runs them. Before the registry is asked, the person's age and legal
    capacity are unknown (None): the rules that need them match only in the process. A
    process deployed without the table accepts every applicant: the process decides then.
    """
    content = _policy_xml(session, process_id)
    if content is None:
        return ChannelDecision(True, None, None)
    data = {
        "channel": channel,
        "applicant_type": applicant_type,
        "application_date": application_date,
        "person_age": None,
        "legal_capacity": None,
    }
    result = decide(parse_xml(content).getroot(), POLICY_DECISION, data, script_engine)
    return ChannelDecision(
        bool(result.get("channel_accepted")),
        result.get("channel_answer"),
        result.get("refusal_reason"),
    )
