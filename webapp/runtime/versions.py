"""Deployed process versions, parsed once per process and cached with their forms.

Deployed content never changes, so a cached spec or form never goes stale.
"""

import json
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, DeploymentFile, ProcessVersion

from .decisions import cache_decisions
from .deployments import IN_EFFECT
from .errors import NotFound
from .serializer import StateSerializer

LATEST_VERSION = (
    select(ProcessVersion.id)
    .join(Deployment, IN_EFFECT)
    .where(ProcessVersion.process_id == bindparam("process_id"))
    .order_by(ProcessVersion.version.desc())
    .limit(1)
)


@dataclass(frozen=True)
class VersionInfo:
    """What a step needs of a process version, cached with its parsed spec."""

    id: int
    process_id: str
    version: int
    deployment_id: int
    spec: object
    subprocess_specs: dict


class Versions:
    """The cache of parsed process versions and form schemas of one runtime."""

    def __init__(self, serializer: StateSerializer) -> None:
        self.serializer = serializer
        self._versions: dict[int, VersionInfo] = {}
        self._forms: dict[tuple[int, str], dict] = {}

    def get(self, session: Session, version_id: int) -> VersionInfo:
        """Return a process version with its parsed spec."""
        info = self._versions.get(version_id)
        if info is None:
            row = session.get(ProcessVersion, version_id)
            spec, subprocess_specs = self.serializer.load_specs(row.spec)
            wire_event_subprocess_triggers(spec)
            cache_decisions(spec, subprocess_specs)
            info = VersionInfo(
                row.id, row.process_id, row.version, row.deployment_id, spec, subprocess_specs
            )
            self._versions[version_id] = info
        return info

    def latest(self, session: Session, process_id: str) -> VersionInfo:
        """Return the newest version in effect of a process."""
        version_id = session.connection().scalar(LATEST_VERSION, {"process_id": process_id})
        if version_id is None:
            raise NotFound(f"no process {process_id!r} is deployed")
        return self.get(session, version_id)

    def numbered(self, session: Session, process_id: str, number: int) -> VersionInfo:
        """Return a version in effect: an instance never moves to one awaiting approval."""
        version_id = session.scalar(
            select(ProcessVersion.id)
            .join(Deployment, IN_EFFECT)
            .where(ProcessVersion.process_id == process_id, ProcessVersion.version == number)
        )
        if version_id is None:
            raise NotFound(f"no approved version {number} of process {process_id!r}")
        return self.get(session, version_id)

    def form(self, session: Session, deployment_id: int, name: str) -> dict:
        """Return a form schema of a deployment."""
        key = (deployment_id, name)
        if key not in self._forms:
            self._forms[key] = json.loads(deployment_file(session, deployment_id, name))
        return self._forms[key]


def deployment_file(session: Session, deployment_id: int, name: str) -> bytes:
    """Return one file of a deployment."""
    content = session.scalar(
        select(DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment_id, DeploymentFile.name == name
        )
    )
    if content is None:
        raise NotFound(f"no file {name!r} in deployment {deployment_id}")
    return content


def wire_event_subprocess_triggers(spec) -> None:
    """Give event subprocesses started by a message the input SpiffWorkflow gives them late.

    SpiffWorkflow connects one to the process start only when it first fires, in the spec
    object, so a spec loaded in another process cannot finish one that fired earlier ("No
    input task connected"). Setting the input alone (not the start's outputs) also keeps new
    instances from starting them on their own.
    """
    start = spec.start
    for name in start.trigger_specs:
        task_spec = spec.task_specs[name]
        if start not in task_spec.inputs:
            task_spec.inputs = [*task_spec.inputs, start]
