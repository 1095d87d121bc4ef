"""An administrator's levers on an instance: incidents, suspension, termination, migration."""

from sqlalchemy.orm import Session

from webapp.db.models import Incident

from . import records
from .errors import Conflict, NotFound
from .migration import MigrationPreview, Plan
from .steps import Step
from .views import InstanceView


class Administration:
    """The runtime's administration (mixed into `Runtime`)."""

    def retry_incident(self, incident_id: int, actor: str) -> InstanceView:
        """Run a failed service task again now (an administrator's retry)."""
        incident = self._incident(incident_id)
        return self._run_step(
            incident.instance_id, lambda step: step.retry(incident.task_id), actor
        )

    def resolve_incident(self, incident_id: int, actor: str) -> InstanceView:
        """Close an incident without retrying: the failed task was done by hand outside."""
        incident = self._incident(incident_id)
        return self._run_step(
            incident.instance_id, lambda step: step.resolve_incidents(incident.task_id), actor
        )

    def suspend(self, instance_id: int, actor: str) -> InstanceView:
        """Suspend an instance: no task, message or timer moves it until it is resumed."""
        return self._run_step(instance_id, lambda step: step.set_status("suspended"), actor)

    def resume(self, instance_id: int, actor: str) -> InstanceView:
        """Resume a suspended instance."""
        return self._run_step(
            instance_id, lambda step: step.set_status(None), actor, allow_inactive=True
        )

    def terminate(self, instance_id: int, actor: str) -> InstanceView:
        """Cancel every open task of an instance and end it."""
        return self._run_step(
            instance_id, lambda step: step.terminate(), actor, allow_inactive=True
        )

    def _incident(self, incident_id: int) -> Incident:
        """Return an incident row."""
        with self.transaction() as session:
            incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        return incident

    # Moving instances between versions

    def _migration(self, session: Session, step: Step, number: int):
        """Return the target version, the plan and its preview of moving a step's instance."""
        target = self.versions.numbered(session, step.info.process_id, number)
        plan = Plan(self.serializer.registry, step.workflow, target.spec, target.subprocess_specs)
        preview = plan.preview(
            step.instance.id, step.info.process_id, step.info.version, number, step.instance.status
        )
        return target, plan, preview

    def migration_preview(self, instance_id: int, version: int) -> MigrationPreview:
        """Tell what moving an instance to another version would change, and whether it may."""
        with self.transaction() as session:
            record = records.read(session.connection(), instance_id, lock=False)
            step = self._new_step(session, record, None)
            return self._migration(session, step, version)[2]

    def migrate(self, instance_id: int, version: int, actor: str) -> InstanceView:
        """Move a waiting instance to a newer version of its process, when that is safe."""
        with self.transaction() as session:
            record = records.read(session.connection(), instance_id)
            step = self._locked_step(session, record, actor)
            target, plan, preview = self._migration(session, step, version)
            if not preview.safe:
                raise Conflict(
                    f"instance {instance_id} cannot move to version {version}: "
                    + "; ".join(preview.reasons)
                )
            step.migrate(plan, target, preview)
            view = step.finish()
        self._committed(step)
        return view
