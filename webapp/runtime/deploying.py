"""Deploying bundles: in effect at once (the operator's), or proposed for another to approve."""

import logging
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, DeploymentFile, ProcessVersion

from . import deployments, texts
from .deployments import APPROVED, PENDING, REJECTED, DeploymentView
from .errors import Conflict, InvalidDiagram, Problem
from .specs import Bundle, parse_bundle
from .versions import deployment_file
from .views import DeployedProcess

log = logging.getLogger(__name__)


class Deploying:
    """The runtime's deployment side (mixed into `Runtime`)."""

    def validate(self, files: Mapping[str, bytes]) -> list[Problem]:
        """Return every problem of a bundle; empty when it would deploy."""
        try:
            bundle = parse_bundle(
                files, self.operators, self.format_names, self.writer_processes, self.languages
            )
        except InvalidDiagram as error:
            return error.problems
        return list(bundle.warnings)

    def deploy(self, files: Mapping[str, bytes], deployed_by: str | None = None):
        """Deploy a bundle in effect at once: a new version of each process in it, or nothing
        if already deployed (then approve it if it waited for a decision).

        This is the server operator's deployment (`tirkeu deploy`, `tirkeu init`); a person
        using the product proposes one instead, for another to approve.
        """
        return self._deploy_bundle(files, deployed_by, APPROVED)

    def propose(self, files: Mapping[str, bytes], author: str):
        """Deploy a bundle as pending: its versions start nothing until another person approves."""
        return self._deploy_bundle(files, author, PENDING)

    def _deploy_bundle(self, files: Mapping[str, bytes], deployed_by: str | None, status: str):
        """Parse a bundle and deploy it with `status`; a concurrent twin is a conflict."""
        bundle = parse_bundle(
            files, self.operators, self.format_names, self.writer_processes, self.languages
        )
        if status == APPROVED and any(p.stops_effect for p in bundle.warnings):
            raise InvalidDiagram([p for p in bundle.warnings if p.stops_effect])
        try:
            with self.transaction() as session:
                return self._deploy(session, bundle, deployed_by, status)
        except IntegrityError as error:
            raise Conflict("another deployment of these processes ran at the same time") from error

    def _deploy(self, session: Session, bundle: Bundle, deployed_by: str | None, status: str):
        """Store a parsed bundle as a deployment with a new version of each of its processes."""
        existing = session.scalar(
            select(Deployment).where(Deployment.content_hash == bundle.content_hash)
        )
        if existing is not None:
            if status == APPROVED and existing.status != APPROVED:
                existing.status = APPROVED
                existing.decided_by, existing.decided_at = deployed_by, self.clock()
            elif status == PENDING and existing.status == REJECTED:
                raise Conflict(
                    f"this content was rejected by {existing.decided_by} on "
                    f"{existing.decided_at:%Y-%m-%d %H:%M} UTC; change it before proposing it again"
                )
            rows = session.scalars(
                select(ProcessVersion).where(ProcessVersion.deployment_id == existing.id)
            )
            return [
                DeployedProcess(r.process_id, r.version, False, existing.id, existing.status)
                for r in rows
            ]
        deployment = Deployment(
            content_hash=bundle.content_hash,
            deployed_by=deployed_by,
            status=status,
            decided_by=deployed_by if status == APPROVED else None,
            decided_at=self.clock() if status == APPROVED else None,
        )
        session.add(deployment)
        session.flush()
        session.add_all(
            DeploymentFile(deployment_id=deployment.id, name=name, content=content)
            for name, content in sorted(bundle.files.items())
        )
        deployed = []
        for process in bundle.processes.values():
            latest = session.scalar(
                select(func.max(ProcessVersion.version)).where(
                    ProcessVersion.process_id == process.process_id
                )
            )
            row = ProcessVersion(
                process_id=process.process_id,
                version=(latest or 0) + 1,
                name=process.name,
                deployment_id=deployment.id,
                bpmn_file=process.bpmn_file,
                spec=self.serializer.dump_specs(process.spec, process.subprocess_specs),
                message_starts=list(process.message_starts),
            )
            session.add(row)
            session.flush()
            deployed.append(
                DeployedProcess(row.process_id, row.version, True, deployment.id, status)
            )
        if status == PENDING:
            log.info("deployment %s proposed by %s", deployment.id, deployed_by)
        return deployed

    def deployments(self, status: str | None = None, limit: int = 100) -> list[DeploymentView]:
        """Return the newest deployments, of one status (`pending`...) or all."""
        with self.transaction() as session:
            return deployments.listed(session, status, limit)

    def deployment(self, deployment_id: int) -> DeploymentView:
        """Return one deployment with its versions and the decision on it."""
        with self.transaction() as session:
            return deployments.one(session, deployment_id)

    def approve(self, deployment_id: int, actor: str) -> DeploymentView:
        """Put a pending deployment in effect; its author may not."""
        return self._decide(deployment_id, actor, APPROVED)

    def reject(self, deployment_id: int, actor: str) -> DeploymentView:
        """Refuse a pending deployment: its versions never start an instance."""
        return self._decide(deployment_id, actor, REJECTED)

    def _decide(self, deployment_id: int, actor: str, status: str) -> DeploymentView:
        """Approve or reject a pending deployment."""
        with self.transaction() as session:
            if status == APPROVED:
                self._check_texts(session, deployment_id)
            decided = deployments.decide(session, deployment_id, actor, status, self.clock())
        log.info("deployment %s %s by %s", deployment_id, status, actor)
        return decided

    def _check_texts(self, session: Session, deployment_id: int) -> None:
        """Refuse to put in effect a deployment whose texts are not all translated."""
        rows = session.execute(
            select(DeploymentFile.name, DeploymentFile.content).where(
                DeploymentFile.deployment_id == deployment_id
            )
        )
        found = texts.problems({name: content for name, content in rows}, self.languages)
        problems = [p for p in found if p.stops_effect]
        if problems:
            raise Conflict(
                f"deployment {deployment_id} cannot take effect: {len(problems)} of its texts"
                f" are not translated ({problems[0]}); complete them on its Texts page and"
                " propose that version"
            )

    def deployment_file(self, deployment_id: int, name: str) -> bytes:
        """Return one file of a deployment."""
        with self.transaction() as session:
            return deployment_file(session, deployment_id, name)
