"""Read the deployed processes: versions with their deployment, files and user task forms."""

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, DeploymentFile, Instance, ProcessVersion
from webapp.runtime.deployments import APPROVED
from webapp.runtime.errors import NotFound
from webapp.runtime.scripting import IDEMPOTENCY_KEY
from webapp.runtime.xmlsafe import parse_xml

FINISHED = ("completed", "terminated")
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}


@dataclass(frozen=True)
class VersionRow:
    """One deployed version of a process as the catalogue lists it."""

    id: int
    process_id: str
    version: int
    name: str | None
    bpmn_file: str
    deployment_id: int
    deployed_by: str | None
    deployed_at: datetime
    content_hash: str
    running: int
    latest: bool
    status: str


@dataclass(frozen=True)
class UserTaskForm:
    """A user task of a diagram with the form files it names."""

    bpmn_id: str
    name: str
    schema_file: str | None
    ui_file: str | None


def versions(session: Session, process_id: str | None = None) -> list[VersionRow]:
    """Return the deployed versions, newest first within each process.

    `latest` marks the version in effect: the newest approved one, which new instances start on.
    """
    running = (
        select(Instance.process_version_id, func.count().label("running"))
        .where(Instance.status.not_in(FINISHED))
        .group_by(Instance.process_version_id)
        .subquery()
    )
    query = (
        select(ProcessVersion, Deployment, func.coalesce(running.c.running, 0))
        .join(Deployment, Deployment.id == ProcessVersion.deployment_id)
        .outerjoin(running, running.c.process_version_id == ProcessVersion.id)
        .order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
    )
    if process_id is not None:
        query = query.where(ProcessVersion.process_id == process_id)
    rows, seen = [], set()
    for version, deployment, count in session.execute(query):
        rows.append(
            VersionRow(
                version.id,
                version.process_id,
                version.version,
                version.name,
                version.bpmn_file,
                deployment.id,
                deployment.deployed_by,
                deployment.created_at,
                deployment.content_hash,
                count,
                deployment.status == APPROVED and version.process_id not in seen,
                deployment.status,
            )  # fmt: skip
        )
        if deployment.status == APPROVED:
            seen.add(version.process_id)
    return rows


def version(session: Session, process_id: str, number: int) -> VersionRow:
    """Return one version, or raise NotFound."""
    for row in versions(session, process_id):
        if row.version == number:
            return row
    raise NotFound(f"no version {number} of process {process_id!r}")


def in_effect(session: Session, process_id: str) -> VersionRow | None:
    """Return the version new instances of the process start on, if any."""
    return next((row for row in versions(session, process_id) if row.latest), None)


def files(session: Session, deployment_id: int) -> dict[str, bytes]:
    """Return the files of a deployment by name."""
    rows = session.scalars(
        select(DeploymentFile).where(DeploymentFile.deployment_id == deployment_id)
    )
    return {row.name: row.content for row in rows}


def user_task_forms(bpmn: bytes) -> list[UserTaskForm]:
    """List the user tasks of a diagram with the form files their properties name."""
    forms = []
    for task in parse_xml(bpmn).iterfind(".//bpmn:userTask", NS):
        properties = {
            p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)
        }
        forms.append(
            UserTaskForm(
                task.get("id"),
                task.get("name") or task.get("id"),
                properties.get("formJsonSchemaFilename"),
                properties.get("formUiSchemaFilename"),
            )
        )
    return forms


def json_file(bundle: Mapping[str, bytes], name: str | None) -> dict | None:
    """Return a bundle's JSON file parsed, or None when absent or not an object."""
    if not name or name not in bundle:
        return None
    try:
        value = json.loads(bundle[name])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def operator_parameters(operators: Mapping[str, Callable]) -> dict[str, list[str]]:
    """Return the parameters a diagram gives each service operator, for the editor's panel."""
    return {
        name: [
            p.name
            for p in inspect.signature(operator).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != IDEMPOTENCY_KEY
        ]
        for name, operator in sorted(operators.items())
    }


def is_xml(name: str) -> bool:
    """Tell whether a bundle file is a diagram (BPMN or DMN)."""
    return name.endswith((".bpmn", ".bpmn20.xml", ".dmn"))


def waiting_instances(session: Session, version_id: int, limit: int = 50) -> list[Instance]:
    """Return the waiting instances of a version, oldest first."""
    return list(
        session.scalars(
            select(Instance)
            .where(Instance.process_version_id == version_id, Instance.status == "waiting")
            .order_by(Instance.created_at, Instance.id)
            .limit(limit)
        )
    )
