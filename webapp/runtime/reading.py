"""Reading tasks and instances without changing them."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Instance

from . import records, signatures
from .errors import NotFound
from .instance_data import current_data, json_safe
from .serializer import StoredTask
from .steps import Step
from .task_list import ACTIVE_TASK_STATES
from .views import InstanceView, TaskView, instance_view


def _row(session: Session, task_id: str) -> HumanTask:
    """Return a task-list row."""
    row = session.get(HumanTask, str(task_id))
    if row is None:
        raise NotFound(f"no task {task_id}")
    return row


class Reading:
    """The runtime's reads (mixed into `Runtime`)."""

    def _task_row(self, task_id: str) -> HumanTask:
        """Return a task-list row."""
        with self.transaction() as session:
            return _row(session, task_id)

    @contextmanager
    def _reading(self, session: Session, instance_id: int) -> Iterator[Step]:
        """Yield a step that only reads an instance (its row is not locked).

        A read looks and changes nothing, so the workflow it took from the warm ones (see
        `warm`) is kept again for the instance's next step, as the row still has it.
        """
        record = records.read(session.connection(), instance_id, False)
        warm = self.warm.take(record.id, record.state) if record.state else None
        step = self._new_step(session, record, None, workflow=warm)
        yield step
        if record.state:
            self.warm.keep(record.id, record.state, step.workflow)

    def task(self, task_id: str) -> TaskView:
        """Return a user task."""
        return TaskView.of(self._task_row(task_id))

    def _stored_task(self, session: Session, row: HumanTask) -> StoredTask | None:
        """Return a task as its instance's row holds it, without restoring the workflow."""
        record = records.read(session.connection(), row.instance_id, False)
        if not record.state:
            return None
        info = self.versions.get(session, record.process_version_id)
        return self.serializer.task(record.state, row.id, info.spec, info.subprocess_specs)

    def task_data(self, task_id: str) -> dict:
        """Return the data a ready user task sees."""
        with self.transaction() as session:
            task = self._stored_task(session, _row(session, task_id))
            return json_safe(dict(task.data)) if task is not None else {}

    def form_schema(self, task_id: str) -> tuple[dict | None, dict | None]:
        """Return a user task's form schema and UI schema (None where it has none)."""
        row = self._task_row(task_id)
        with self.transaction() as session:
            instance = session.get(Instance, row.instance_id)
            deployment_id = self.versions.get(session, instance.process_version_id).deployment_id
            return (
                self.versions.form(session, deployment_id, row.form) if row.form else None,
                self.versions.form(session, deployment_id, row.ui_form) if row.ui_form else None,
            )

    def task_signing(
        self, task_id: str, data: Mapping, language: str = signatures.DEFAULT_LANGUAGE
    ) -> signatures.Signing | None:
        """Return what the signer must sign to complete an open task with this data, if
        anything, with the document rendered in `language`."""
        with self.transaction() as session:
            row = _row(session, task_id)
            task = self._stored_task(session, row)
            view = TaskView.of(row)
            return self._task_signing(session, task, view, json_safe(dict(data)), language)

    def _task_signing(
        self, session: Session, task, row: TaskView, data: Mapping, language: str
    ) -> signatures.Signing | None:
        """Return what completing a task (a workflow's, or as stored) with this data must be
        signed with, if anything; the document is rendered in `language`."""
        evaluate = self.script_engine.environment.evaluate
        return signatures.task_signing(evaluate, session, task, row, data, self.documents, language)

    def ready_tasks(self, instance_id: int | None = None, limit: int = 1000) -> list[TaskView]:
        """Return open user tasks, oldest first, of one instance or of all."""
        with self.transaction() as session:
            query = select(HumanTask).where(HumanTask.state.in_(ACTIVE_TASK_STATES))
            if instance_id is not None:
                query = query.where(HumanTask.instance_id == instance_id)
            rows = session.scalars(query.order_by(HumanTask.created_at, HumanTask.id).limit(limit))
            return [TaskView.of(row) for row in rows]

    def instance(self, instance_id: int) -> InstanceView:
        """Return an instance with its current data, open tasks, events and incidents."""
        with self.transaction() as session, self._reading(session, instance_id) as step:
            tasks = tuple(step.open_tasks().values())
            data = current_data(step.workflow)
            return instance_view(session, step.instance, step.info, data, tasks, full=True)
