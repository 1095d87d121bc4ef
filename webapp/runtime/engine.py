"""The runtime: deploy bundles and move instances forward, one short transaction per step.

A step locks the instance row, loads its state with the cached spec (or takes the workflow the
instance's last committed step in this process left, when the row still holds what that step
saved: see `warm`), re-attaches our script engine, applies one input (start, complete a task,
deliver a message, fire a timer, retry a service task), runs the engine until it waits, saves
the state, syncs the read models, appends the audit events and commits. Nothing else changes an
instance. Each side of the runtime is a module of its own, mixed into `Runtime` here.
"""

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session, sessionmaker

from webapp.db.base import utcnow

from . import dated, forms, inputs, records, signatures
from .administration import Administration
from .assignment import Directory, MayAct, check_actor, check_may_act
from .claims import Claims
from .deploying import Deploying
from .errors import Conflict, InvalidData
from .incidents import RetryPolicy
from .levers import TunedSerializer, new_workflow
from .messaging import Messaging
from .metrics import LatencyHistogram
from .reading import Reading
from .records import InstanceRecord
from .scripting import restricted_engine
from .shared_reads import reads_shared
from .starting import Starting
from .steps import Step
from .task_list import ACTIVE_TASK_STATES
from .versions import Versions
from .views import InstanceView
from .warm import DEFAULT_SIZE, WarmWorkflows

__all__ = ["RetryPolicy", "Runtime"]


class Runtime(Deploying, Starting, Claims, Messaging, Administration, Reading):
    """Deploys bundles and runs their instances, persisted, on one database."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        operators: Mapping[str, Callable[..., dict]],
        config: Mapping[str, object] | None = None,
        clock: Callable[[], datetime] = utcnow,
        business_key_field: str = "application_number",
        summary_fields: tuple[str, ...] = (),
        channel_field: str | None = None,
        search_fields: tuple[str, ...] = (),
        retry: RetryPolicy | None = None,
        formats: Mapping[str, forms.Format] | None = None,
        writer_processes: Collection[str] = (),
        verifier: signatures.SignatureVerifier | None = None,
        directory: Directory | None = None,
        field_rules: Mapping[str, Callable[[object], str | None]] | None = None,
        documents: signatures.DocumentRenderer = signatures.json_renderer,
        languages: Collection[str] = (),
        warm_workflows: int = DEFAULT_SIZE,
    ):
        self.session_factory = session_factory
        self.operators = dict(operators)
        self.config = dict(config or {})
        # Operators marked `writes` (registry writes) run only in the processes this names.
        self.writer_processes = frozenset(writer_processes)
        # The languages besides the diagrams' English that a translated bundle must have.
        self.languages = tuple(languages)
        self.clock = clock
        self.business_key_field = business_key_field
        self.summary_fields = summary_fields
        # Copied from the instance's data into each new task row, so task lists filter by
        # channel and search by these values through indexes.
        self.channel_field = channel_field
        self.search_fields = search_fields
        self.retry = retry or RetryPolicy()
        # The product's own JSON Schema formats (`iin`) that its forms may use.
        self.formats = dict(formats or {})
        # The product's parts a step asks: who signed an act, and who people are.
        self.verifier = verifier
        self.directory = directory
        # The product's rules for fields of start data (a service centre that exists): each
        # returns why a value is refused, or None.
        self.field_rules = dict(field_rules or {})
        # Turns the document of a signed act into the bytes signed, in the signer's language.
        self.documents = documents
        self.serializer = TunedSerializer()
        self.versions = Versions(self.serializer)
        # The workflows of the last committed steps, so that the next step need not restore them.
        self.warm = WarmWorkflows(warm_workflows)
        self.script_engine = restricted_engine({"config": self.setting}, self.operators)
        self.step_latency = LatencyHistogram()

    def setting(self, name: str, on: str | None = None) -> object:
        """Return a product setting to a diagram (`config("consent_window")`).

        A dated setting gives the value in force on the day `on` (`config("online_first",
        application_date)`), or on today's date when no day is given.
        """
        if name not in self.config:
            raise KeyError(f"no setting named {name!r}")
        value = self.config[name]
        if dated.is_dated(value):
            return dated.in_force(name, value, on or self.clock().date())
        return value

    @property
    def format_names(self) -> set[str]:
        """Return every JSON Schema format a deployed form may use."""
        return forms.FORMATS | set(self.formats)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session with one transaction, committed on success, its registry reads shared
        (`shared_reads`)."""
        with self.session_factory() as session, session.begin(), reads_shared():
            yield session

    # Steps

    def _committed(self, step: Step) -> None:
        """Keep a committed step's workflow for the instance's next step; send its messages."""
        self.warm.keep(step.instance.id, step.saved, step.workflow)
        self._deliver_outbox(step)

    def _new_step(
        self,
        session: Session,
        instance: InstanceRecord,
        actor: str | None,
        now: datetime | None = None,
        workflow=None,
    ) -> Step:
        """Load an instance's workflow (a new one for a new instance) into a step, unless the
        step brings the workflow its row holds."""
        info = self.versions.get(session, instance.process_version_id)
        if workflow is None and instance.state:
            workflow = self.serializer.load(
                instance.state, info.spec, info.subprocess_specs, self.script_engine
            )
        elif workflow is None:
            workflow = new_workflow(info.spec, info.subprocess_specs, self.script_engine)
        return Step(self, session, instance, info, workflow, actor, now or self.clock())

    def _locked_step(
        self,
        session: Session,
        instance: InstanceRecord,
        actor: str | None,
        now: datetime | None = None,
        allow_inactive: bool = False,
    ) -> Step:
        """Return a step on a locked instance row; a suspended or ended one moves no further."""
        if instance.status in ("suspended", "terminated") and not allow_inactive:
            raise Conflict(f"instance {instance.id} is {instance.status}")
        warm = self.warm.take(instance.id, instance.state) if instance.state else None
        return self._new_step(session, instance, actor, now, warm)

    def _run_step(
        self,
        instance_id: int,
        apply: Callable[[Step], None],
        actor: str | None = None,
        now: datetime | None = None,
        allow_inactive: bool = False,
    ) -> InstanceView:
        """Lock an instance, apply one input to it, run and save it; return its view."""
        with self.step_latency.measure("step"), self.transaction() as session:
            instance = records.read(session.connection(), instance_id)
            step = self._locked_step(session, instance, actor, now, allow_inactive)
            apply(step)
            view = step.finish()
        self._committed(step)
        return view

    def complete(
        self,
        task_id: str,
        data: Mapping,
        actor: str | None = None,
        may_act: MayAct | None = None,
    ) -> InstanceView:
        """Complete a ready user task with its form data, then run until the instance waits.

        `may_act`, the caller's rule of who may act on the task (roles, assignment, claim), is
        applied to the task's row as the step reads it with the instance's lock.
        """
        if not isinstance(data, Mapping):
            raise InvalidData("task data must be a JSON object", {"data": "not an object"})
        data = inputs.check_data(data, "task data")
        task_id = str(task_id)
        with self.step_latency.measure("complete"), self.transaction() as session:
            record, row = records.lock_of_task(session.connection(), task_id)
            check_may_act(may_act, row, task_id, actor)
            step = self._locked_step(session, record, actor)
            step.know(row)
            if row.state not in ACTIVE_TASK_STATES:
                raise Conflict(f"task {task_id} is {row.state}, not ready")
            check_actor(self.directory, session, task_id, row.assignee, actor)
            if actor and row.claimed_by and row.claimed_by != actor:
                raise Conflict(f"task {task_id} is claimed by {row.claimed_by}")
            task = step.task(task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict(f"task {task_id} is no longer ready")
            if row.form:
                schema = self.versions.form(session, step.info.deployment_id, row.form)
                forms.validate_form_data(schema, data, self.formats, case=task.data)
            field = signatures.field_of(task.task_spec)
            language = signatures.evidence_language(data.get(field))
            signing = self._task_signing(session, task, row, data, language)
            if signing is not None:
                evidence = signatures.verify(
                    self.verifier, session, signing, data.get(signing.field), actor, step.now
                )
                data = {**data, signing.field: evidence}
            task.set_data(**data)
            try:
                task.run()
            except Exception as error:  # noqa: BLE001  (the diagram's own checks of the data)
                raise InvalidData(
                    f"task {task_id} cannot be completed with this data: {error}",
                    {"data": str(error)},
                ) from error
            view = step.finish()
        self._committed(step)
        return view
