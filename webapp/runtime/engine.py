"""The runtime: deploy bundles and move instances forward, one short transaction per step.

A step locks the instance row, loads its state with the cached spec, re-attaches our script
engine, applies one input (start, complete a task, deliver a message, fire a timer, retry a
service task), runs the engine until it waits, saves the state, syncs the read models, appends
the audit events and commits. Nothing else changes an instance.
"""

import json
import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Update, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from webapp.db.base import utcnow
from webapp.db.models import (
    Deployment,
    DeploymentFile,
    HumanTask,
    Incident,
    Instance,
    InstanceEvent,
    Job,
    MessageSubscription,
    ProcessVersion,
)

from . import deployments, forms, inputs, signatures, texts
from .assignment import Directory, assignment, check_actor, check_reassignment
from .deployments import APPROVED, IN_EFFECT, PENDING, REJECTED, DeploymentView
from .errors import (
    Conflict,
    InvalidData,
    InvalidDiagram,
    NotFound,
    Problem,
    TakenKey,
    TirkeuError,
)
from .metrics import LatencyHistogram
from .migration import MigrationPreview, Plan
from .scripting import restricted_engine
from .serializer import SERIALIZER_VERSION, StateSerializer
from .specs import Bundle, parse_bundle, start_forms
from .steps import (
    ACTIVE_TASK_STATES,
    INSERT_EVENTS,
    LOCK_RECORD,
    LOCK_RECORD_OF_TASK,
    MESSAGE_JOB,
    READ_RECORD,
    InstanceRecord,
    Step,
    correlation_key,
    current_data,
    json_safe,
)
from .views import DeployedProcess, EventView, IncidentView, InstanceView, TaskView

log = logging.getLogger(__name__)

LATEST_VERSION = (
    select(ProcessVersion.id)
    .join(Deployment, IN_EFFECT)
    .where(ProcessVersion.process_id == bindparam("process_id"))
    .order_by(ProcessVersion.version.desc())
    .limit(1)
)
INSERT_INSTANCE = insert(Instance).returning(Instance.id)
NUMBER_INSTANCE = (
    update(Instance)
    .where(Instance.id == bindparam("instance_id"))
    .values(business_key=bindparam("key"))
)
BUSINESS_KEY_LENGTH = Instance.business_key.type.length
NUMBERED_KEY = re.compile(r"A-[0-9]{6,}")
VERSION_OF_INSTANCE = select(Instance.process_version_id).where(
    Instance.id == bindparam("instance_id")
)
REASSIGN = (
    update(HumanTask)
    .where(HumanTask.id == bindparam("task_id"), HumanTask.state.in_(ACTIVE_TASK_STATES))
    .returning(*(getattr(HumanTask, name) for name in TaskView.__dataclass_fields__))
)
CLAIM = REASSIGN.where(HumanTask.claimed_by.is_(None))
RELEASE = REASSIGN.where(HumanTask.claimed_by == bindparam("holder"))


@dataclass(frozen=True)
class VersionInfo:
    """What a step needs of a process version, cached with its parsed spec."""

    id: int
    process_id: str
    version: int
    deployment_id: int
    spec: object
    subprocess_specs: dict


@dataclass(frozen=True)
class RetryPolicy:
    """Service-task retries: the diagram's `retries` are parsed but never acted on by Spiff."""

    max_attempts: int = 5
    first_delay: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(minutes=10)

    def delay(self, attempts: int) -> timedelta:
        """Return the backoff before retry number `attempts`."""
        return min(self.first_delay * 2 ** (attempts - 1), self.max_delay)


def consume(session: Session, outbox_job: int | None) -> None:
    """Remove a thrown message's job in the transaction delivering it, or refuse a second one."""
    if outbox_job is None:
        return
    if session.execute(delete(Job).where(Job.id == outbox_job)).rowcount != 1:
        raise Conflict(f"the message of job {outbox_job} was delivered already")


class Runtime:
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
        retry: RetryPolicy = RetryPolicy(),
        formats: Mapping[str, forms.Format] | None = None,
        writer_processes: Collection[str] = (),
        verifier: signatures.SignatureVerifier | None = None,
        directory: Directory | None = None,
        languages: Collection[str] = (),
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
        self.retry = retry
        # The product's own JSON Schema formats (`iin`) that its forms may use.
        self.formats = dict(formats or {})
        # The product's parts a step asks: who signed an act, and who people are.
        self.verifier = verifier
        self.directory = directory
        self.serializer = StateSerializer()
        self.script_engine = restricted_engine({"config": self.setting}, self.operators)
        self.step_latency = LatencyHistogram()
        self._versions: dict[int, VersionInfo] = {}
        self._forms: dict[tuple[int, str], dict] = {}

    def setting(self, name: str) -> object:
        """Return a product setting to a diagram (`config("consent_window")`)."""
        if name not in self.config:
            raise KeyError(f"no setting named {name!r}")
        return self.config[name]

    @property
    def format_names(self) -> set[str]:
        """Return every JSON Schema format a deployed form may use."""
        return forms.FORMATS | set(self.formats)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session with one transaction, committed on success."""
        with self.session_factory() as session, session.begin():
            yield session

    # Deployment

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

    def _version(self, session: Session, version_id: int) -> VersionInfo:
        info = self._versions.get(version_id)
        if info is None:
            row = session.get(ProcessVersion, version_id)
            spec, subprocess_specs = self.serializer.load_specs(row.spec)
            wire_event_subprocess_triggers(spec)
            info = VersionInfo(
                row.id, row.process_id, row.version, row.deployment_id, spec, subprocess_specs
            )
            self._versions[version_id] = info
        return info

    def _latest_version(self, session: Session, process_id: str) -> VersionInfo:
        version_id = session.connection().scalar(LATEST_VERSION, {"process_id": process_id})
        if version_id is None:
            raise NotFound(f"no process {process_id!r} is deployed")
        return self._version(session, version_id)

    def deployment_file(self, deployment_id: int, name: str) -> bytes:
        """Return one file of a deployment."""
        with self.transaction() as session:
            return self._file(session, deployment_id, name)

    @staticmethod
    def _file(session: Session, deployment_id: int, name: str) -> bytes:
        content = session.scalar(
            select(DeploymentFile.content).where(
                DeploymentFile.deployment_id == deployment_id, DeploymentFile.name == name
            )
        )
        if content is None:
            raise NotFound(f"no file {name!r} in deployment {deployment_id}")
        return content

    def _form(self, session: Session, deployment_id: int, name: str) -> dict:
        """Return a form schema of a deployment, cached: deployed content never changes."""
        key = (deployment_id, name)
        if key not in self._forms:
            self._forms[key] = json.loads(self._file(session, deployment_id, name))
        return self._forms[key]

    # Steps

    def _new_step(
        self,
        session: Session,
        instance: InstanceRecord,
        actor: str | None,
        now: datetime | None = None,
    ) -> Step:
        info = self._version(session, instance.process_version_id)
        if instance.state:
            workflow = self.serializer.load(
                instance.state, info.spec, info.subprocess_specs, self.script_engine
            )
        else:
            workflow = BpmnWorkflow(
                info.spec, info.subprocess_specs, script_engine=self.script_engine
            )
        return Step(self, session, instance, info, workflow, actor, now or self.clock())

    @staticmethod
    def _record(session: Session, instance_id: int, lock: bool = True) -> InstanceRecord:
        """Read (and lock, for a step) the instance row."""
        query = LOCK_RECORD if lock else READ_RECORD
        row = session.connection().execute(query, {"instance_id": instance_id}).first()
        if row is None:
            raise NotFound(f"no instance {instance_id}")
        return InstanceRecord(*row)

    def _locked_step(
        self,
        session: Session,
        instance: InstanceRecord,
        actor: str | None,
        now: datetime | None = None,
        allow_inactive: bool = False,
    ) -> Step:
        if instance.status in ("suspended", "terminated") and not allow_inactive:
            raise Conflict(f"instance {instance.id} is {instance.status}")
        return self._new_step(session, instance, actor, now)

    def _run_step(
        self,
        instance_id: int,
        apply: Callable[[Step], None],
        actor: str | None = None,
        now: datetime | None = None,
        allow_inactive: bool = False,
    ) -> InstanceView:
        with self.step_latency.measure("step"), self.transaction() as session:
            instance = self._record(session, instance_id)
            step = self._locked_step(session, instance, actor, now, allow_inactive)
            apply(step)
            view = step.finish()
        step.after_commit()
        return view

    # Moving instances between versions

    def _numbered_version(self, session: Session, process_id: str, number: int) -> VersionInfo:
        """Return a version in effect: an instance never moves to one awaiting approval."""
        version_id = session.scalar(
            select(ProcessVersion.id)
            .join(Deployment, IN_EFFECT)
            .where(ProcessVersion.process_id == process_id, ProcessVersion.version == number)
        )
        if version_id is None:
            raise NotFound(f"no approved version {number} of process {process_id!r}")
        return self._version(session, version_id)

    def _migration(self, session: Session, step: Step, number: int):
        target = self._numbered_version(session, step.info.process_id, number)
        plan = Plan(self.serializer.registry, step.workflow, target.spec, target.subprocess_specs)
        preview = plan.preview(
            step.instance.id, step.info.process_id, step.info.version, number, step.instance.status
        )
        return target, plan, preview

    def migration_preview(self, instance_id: int, version: int) -> MigrationPreview:
        """Tell what moving an instance to another version would change, and whether it may."""
        with self.transaction() as session:
            step = self._new_step(session, self._record(session, instance_id, lock=False), None)
            return self._migration(session, step, version)[2]

    def migrate(self, instance_id: int, version: int, actor: str) -> InstanceView:
        """Move a waiting instance to a newer version of its process, when that is safe."""
        with self.transaction() as session:
            step = self._locked_step(session, self._record(session, instance_id), actor)
            target, plan, preview = self._migration(session, step, version)
            if not preview.safe:
                raise Conflict(
                    f"instance {instance_id} cannot move to version {version}: "
                    + "; ".join(preview.reasons)
                )
            step.migrate(plan, target, preview)
            view = step.finish()
        step.after_commit()
        return view

    def start(self, process_id: str, data: Mapping, actor: str | None = None) -> InstanceView:
        """Start an instance of the newest version and run it until it waits.

        Data refused by the start event's form or by the limits of `inputs` raises InvalidData
        naming each field, and creates nothing.
        """
        if not isinstance(data, Mapping):
            raise InvalidData("start data must be a JSON object", {"data": "not an object"})
        with self.step_latency.measure("start"), self.transaction() as session:
            info = self._latest_version(session, process_id)
            step = self._start(session, info, data, actor)
            view = step.finish()
        step.after_commit()
        return view

    def _start(
        self,
        session: Session,
        info: VersionInfo,
        data: Mapping,
        actor: str | None,
        message: tuple[str, dict, dict] | None = None,
    ) -> Step:
        """Check the data, create the instance and hand it the data: every start comes here.

        An instance that a `message` (name, payload, correlation) starts has no start data:
        the payload is checked against the form of that message's start event, then delivered.
        Other starts carry their signature where the start event requires one; message start
        events are signed by no one.
        """
        inputs.check_data(data, "start data")
        data = json_safe(dict(data))
        name, checked = (message[0], message[1]) if message else (None, data)
        for form in start_forms(info.spec, name):
            schema = self._form(session, info.deployment_id, form)
            forms.validate_form_data(schema, checked, self.formats, "start data")
        now = self.clock()
        if message is None:
            data = self._signed_start(session, info, data, actor, now)
        instance_id, business_key = self._insert_instance(session, info, data, now)
        instance = InstanceRecord(
            instance_id, info.id, info.process_id, business_key, "waiting", "", 1, None
        )
        step = self._new_step(session, instance, actor, now)
        for task in step.workflow.get_tasks(state=TaskState.READY):
            task.set_data(**data)
        step.record("instance_started", data=data)
        if message:
            step.deliver_to_start(*message)
        return step

    def _start_signing(self, info: VersionInfo, data: Mapping) -> signatures.Signing | None:
        evaluate = self.script_engine.environment.evaluate
        return signatures.start_signing(evaluate, info.spec, info.process_id, data)

    def _task_signing(
        self, session: Session, step: Step, row: TaskView, data: Mapping
    ) -> signatures.Signing | None:
        evaluate = self.script_engine.environment.evaluate
        return signatures.task_signing(evaluate, session, step.task(row.id), row, data)

    def _signed_start(
        self, session: Session, info: VersionInfo, data: dict, actor: str | None, now: datetime
    ) -> dict:
        """Return the start data with its verified evidence, when the start must be signed."""
        signing = self._start_signing(info, data)
        if signing is None:
            return data
        evidence = signatures.verify(
            self.verifier, session, signing, data.get(signing.field), actor, now
        )
        return {**data, signing.field: evidence}

    def start_signing(self, process_id: str, data: Mapping) -> signatures.Signing | None:
        """Return what the starter must sign to start the process with this data, if anything."""
        with self.transaction() as session:
            info = self._latest_version(session, process_id)
        return self._start_signing(info, json_safe(dict(data)))

    def task_signing(self, task_id: str, data: Mapping) -> signatures.Signing | None:
        """Return what the signer must sign to complete an open task with this data, if anything."""
        row = self._task_row(task_id)
        with self.transaction() as session:
            step = self._new_step(session, self._record(session, row.instance_id, False), None)
            return self._task_signing(session, step, TaskView.of(row), json_safe(dict(data)))

    def _supplied_key(self, data: dict) -> str | None:
        """Return the business key the start data brings, or None when the runtime numbers it.

        The `A-000123` form is the runtime's own numbering: a supplied number of that form
        could take the number a later application is given.
        """
        field = self.business_key_field
        value = data.get(field) if field else None
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > BUSINESS_KEY_LENGTH or not value.strip():
            reason = f"must be a text of at most {BUSINESS_KEY_LENGTH} characters"
            raise InvalidData(f"{field} {reason}", {field: reason})
        if NUMBERED_KEY.fullmatch(value):
            reason = "numbers of the form A-000123 are given by the service; leave it empty"
            raise InvalidData(f"{field} {value!r}: {reason}", {field: reason})
        return value

    def _insert_instance(
        self, session: Session, info: VersionInfo, data: dict, now: datetime
    ) -> tuple[int, str | None]:
        """Insert the instance row with its business key, numbering it if none was given.

        The unique index on (process, business key) refuses a second application with the same
        number, also when two starts race: registry writes are keyed by that number, so a
        second holder would be answered with the first one's registration.
        """
        field = self.business_key_field
        business_key = self._supplied_key(data)
        db = session.connection()
        try:
            instance_id = db.scalar(
                INSERT_INSTANCE,
                {
                    "process_version_id": info.id,
                    "process_id": info.process_id,
                    "business_key": business_key,
                    "status": "waiting",
                    "state": b"",
                    "serializer_version": SERIALIZER_VERSION,
                    "summary": {},
                    "lock_version": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if field and business_key is None:
                business_key = data[field] = f"A-{instance_id:06d}"
                db.execute(NUMBER_INSTANCE, {"instance_id": instance_id, "key": business_key})
        except IntegrityError as error:
            reason = "another application already has this number"
            raise TakenKey(
                f"{field} {business_key!r} is taken by another application of {info.process_id}",
                {field: reason},
            ) from error
        return instance_id, business_key

    def complete(self, task_id: str, data: Mapping, actor: str | None = None) -> InstanceView:
        """Complete a ready user task with its form data, then run until the instance waits."""
        if not isinstance(data, Mapping):
            raise InvalidData("task data must be a JSON object", {"data": "not an object"})
        inputs.check_data(data, "task data")
        data = json_safe(dict(data))
        task_id = str(task_id)
        with self.step_latency.measure("complete"), self.transaction() as session:
            found = session.connection().execute(LOCK_RECORD_OF_TASK, {"task_id": task_id})
            record = found.first()
            if record is None:
                raise NotFound(f"no task {task_id}")
            step = self._locked_step(session, InstanceRecord(*record), actor)
            row = step.open_tasks().get(task_id)
            if row is None:
                state = session.scalar(select(HumanTask.state).where(HumanTask.id == task_id))
                raise Conflict(f"task {task_id} is {state}, not ready")
            check_actor(self.directory, session, task_id, row.assignee, actor)
            if actor and row.claimed_by and row.claimed_by != actor:
                raise Conflict(f"task {task_id} is claimed by {row.claimed_by}")
            if row.form:
                forms.validate_form_data(
                    self._form(session, step.info.deployment_id, row.form), data, self.formats
                )
            task = step.task(task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict(f"task {task_id} is no longer ready")
            signing = self._task_signing(session, step, row, data)
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
        step.after_commit()
        return view

    def message(
        self, name: str, payload: Mapping | None = None, correlation: Mapping | None = None
    ) -> InstanceView:
        """Deliver a message to the waiting instance whose correlation matches, or start one."""
        return self._message(name, dict(payload or {}), dict(correlation or {}))

    def _message(
        self, name: str, payload: dict, correlation: dict, outbox_job: int | None = None
    ) -> InstanceView:
        """Deliver a message; with `outbox_job`, remove that job in the same transaction."""
        inputs.check_data(payload, "message payload")
        inputs.check_data(correlation, "message correlation")
        key = correlation_key(correlation)
        with self.transaction() as session:
            subscriptions = session.execute(
                select(MessageSubscription.instance_id, MessageSubscription.task_id)
                .where(
                    MessageSubscription.message_name == name,
                    MessageSubscription.correlation_key == key,
                )
                .limit(2)
            ).all()
            if not subscriptions:
                return self._start_by_message(session, name, payload, correlation, outbox_job)
        if len(subscriptions) > 1:
            raise Conflict(
                f"more than one instance waits for message {name!r}"
                f" with correlation {correlation}; give a more precise correlation"
            )
        instance_id, task_id = subscriptions[0]

        def deliver(step: Step) -> None:
            step.deliver(task_id, name, payload, correlation)
            consume(step.session, outbox_job)

        return self._run_step(instance_id, deliver)

    def deliver_thrown(self, instance_id: int, task_id: str, now: datetime) -> bool:
        """Deliver a message an instance threw, once; if it fails, try again later.

        Return whether it was delivered. A message nobody takes after the retry policy's
        attempts is dropped with a `message_undelivered` event on the instance that threw it.
        """
        with self.transaction() as session:
            job = session.scalar(
                select(Job).where(
                    Job.instance_id == instance_id,
                    Job.task_id == task_id,
                    Job.kind == MESSAGE_JOB,
                )
            )
        if job is None:
            return False
        message = job.payload
        try:
            self._message(message["name"], message["payload"], message["correlation"], job.id)
        except TirkeuError as error:
            self._undelivered(job.id, message, error, now)
            return False
        return True

    def _undelivered(self, job_id: int, message: dict, error: TirkeuError, now: datetime):
        with self.transaction() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None:
                return
            job.attempts += 1
            job.locked_by = job.locked_until = None
            if job.attempts < self.retry.max_attempts:
                job.due_at = now + self.retry.delay(job.attempts)
                return
            log.warning("message %s of instance %s dropped: %s", message["name"],
                        job.instance_id, error)  # fmt: skip
            self._append_event(
                session,
                job.instance_id,
                at=now,
                kind="message_undelivered",
                data={**message, "error": str(error), "attempts": job.attempts},
            )
            session.delete(job)

    def _append_event(self, session: Session, instance_id: int, **event) -> None:
        """Append an audit event to an instance outside a step (claims, dropped messages)."""
        db = session.connection()
        info = self._version(session, db.scalar(VERSION_OF_INSTANCE, {"instance_id": instance_id}))
        db.execute(
            INSERT_EVENTS,
            {
                "instance_id": instance_id,
                "process_id": info.process_id,
                "version": info.version,
                **event,
            },
        )

    def _start_by_message(
        self,
        session: Session,
        name: str,
        payload: dict,
        correlation: dict,
        outbox_job: int | None = None,
    ):
        rows = session.execute(
            select(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.message_starts)
            .join(Deployment, IN_EFFECT)
            .order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
        ).all()
        latest = {}
        for version_id, process_id, starts in rows:
            latest.setdefault(process_id, (version_id, starts))
        starters = [vid for vid, starts in latest.values() if name in (starts or [])]
        if not starters:
            raise NotFound(
                f"no waiting instance matches message {name!r} with correlation {correlation}"
            )
        message = (name, payload, correlation)
        step = self._start(session, self._version(session, starters[0]), {}, None, message)
        consume(session, outbox_job)
        view = step.finish()
        session.commit()
        step.after_commit()
        return view

    def claim(self, task_id: str, actor: str) -> TaskView:
        """Claim a ready task for `actor`; a task claimed by someone else is a conflict."""
        return self._set_claim(task_id, actor, CLAIM, "claimed", new=actor)

    def unclaim(self, task_id: str, actor: str) -> TaskView:
        """Give a claimed task back to its role's queue."""
        return self._set_claim(task_id, actor, RELEASE, "unclaimed", new=None, holder=actor)

    def assign(self, task_id: str, user: str, actor: str) -> TaskView:
        """Reassign a task to `user` (a supervisor's decision), whoever holds it now.

        Only an active staff user holding the task's role may be given it (the directory
        decides); a task assigned to a person is never reassigned.
        """
        return self._set_claim(task_id, actor, REASSIGN, "assigned", new=user)

    def _set_claim(
        self,
        task_id: str,
        actor: str,
        statement: Update,
        kind: str,
        new: str | None,
        **condition: str,
    ) -> TaskView:
        now, task_id = self.clock(), str(task_id)
        values = {"claimed_by": new, "state": "claimed" if new else "ready"}
        values["claimed_at"] = now if new else None
        with self.transaction() as session:
            db = session.connection()
            if kind in ("claimed", "assigned"):
                assignee, role = assignment(session, task_id)
                if kind == "claimed":
                    check_actor(self.directory, session, task_id, assignee, actor)
                else:
                    check_reassignment(self.directory, session, task_id, assignee, role, new)
            changed = db.execute(statement, {"task_id": task_id, **values, **condition}).first()
            if changed is None:
                row = db.execute(
                    select(HumanTask.state, HumanTask.claimed_by).where(HumanTask.id == task_id)
                ).first()
                if row is None:
                    raise NotFound(f"no task {task_id}")
                holder = row.claimed_by or "nobody"
                raise Conflict(f"task {task_id} is {row.state} and held by {holder}")
            task = TaskView(*changed)
            self._append_event(
                session,
                task.instance_id,
                at=now,
                kind=kind,
                task_id=task_id,
                bpmn_id=task.bpmn_id,
                name=task.name,
                task_type="UserTask",
                actor=actor,
                data={"user": new} if kind == "assigned" else None,
            )
            return task

    def run_due_jobs(
        self,
        now: datetime | None = None,
        worker: str = "worker",
        limit: int = 100,
        lease: timedelta = timedelta(minutes=5),
    ) -> int:
        """Fire the timers and retries and deliver the messages due at `now`; return how many ran.

        The jobs taken are leased for `lease`: if this worker dies, another takes them after.
        """
        now = now or self.clock()
        lease = self.clock() + lease
        with self.transaction() as session:
            jobs = session.execute(
                select(Job.id, Job.instance_id, Job.task_id, Job.kind)
                .join(Instance, Instance.id == Job.instance_id)
                .where(
                    Job.due_at <= now,
                    or_(
                        Job.kind == MESSAGE_JOB,
                        Instance.status.not_in(("suspended", "terminated")),
                    ),
                    or_(Job.locked_until.is_(None), Job.locked_until < self.clock()),
                )
                .order_by(Job.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Job)
            ).all()
            if jobs:
                session.execute(
                    update(Job)
                    .where(Job.id.in_([job.id for job in jobs]))
                    .values(locked_by=worker, locked_until=lease)
                )
        done = 0
        for job in jobs:
            try:
                if job.kind == MESSAGE_JOB:
                    done += self.deliver_thrown(job.instance_id, job.task_id, now)
                    continue
                self._run_step(
                    job.instance_id,
                    lambda step, job=job: step.fire(job.id, job.task_id, job.kind),
                    now=now,
                )
                done += 1
            except TirkeuError as error:
                log.warning("job %s of instance %s: %s", job.id, job.instance_id, error)
            except Exception:
                log.exception("job %s of instance %s failed", job.id, job.instance_id)
        return done

    # Administration

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

    # Reading

    def _incident(self, incident_id: int) -> Incident:
        with self.transaction() as session:
            incident = session.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}")
        return incident

    def _task_row(self, task_id: str) -> HumanTask:
        with self.transaction() as session:
            row = session.get(HumanTask, str(task_id))
        if row is None:
            raise NotFound(f"no task {task_id}")
        return row

    def task(self, task_id: str) -> TaskView:
        """Return a user task."""
        return TaskView.of(self._task_row(task_id))

    def task_data(self, task_id: str) -> dict:
        """Return the data a ready user task sees."""
        row = self._task_row(task_id)
        with self.transaction() as session:
            step = self._new_step(session, self._record(session, row.instance_id, False), None)
            task = step.task(task_id)
            return json_safe(dict(task.data)) if task is not None else {}

    def form_schema(self, task_id: str) -> tuple[dict | None, dict | None]:
        """Return a user task's form schema and UI schema (None where it has none)."""
        row = self._task_row(task_id)
        with self.transaction() as session:
            instance = session.get(Instance, row.instance_id)
            deployment_id = self._version(session, instance.process_version_id).deployment_id
            return (
                self._form(session, deployment_id, row.form) if row.form else None,
                self._form(session, deployment_id, row.ui_form) if row.ui_form else None,
            )

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
        with self.transaction() as session:
            instance = self._record(session, instance_id, lock=False)
            step = self._new_step(session, instance, None)
            tasks = tuple(step.open_tasks().values())
            data = current_data(step.workflow)
            return self.view(session, instance, step.info, data, tasks, full=True)

    def view(
        self,
        session: Session,
        instance: Instance,
        info: VersionInfo,
        data: dict,
        tasks: tuple[TaskView, ...],
        full: bool = False,
    ) -> InstanceView:
        """Build the view of an instance with its open tasks (events and incidents when `full`)."""
        events, incidents = (), ()
        if full:
            events = tuple(
                EventView.of(e)
                for e in session.scalars(
                    select(InstanceEvent)
                    .where(InstanceEvent.instance_id == instance.id)
                    .order_by(InstanceEvent.id)
                )
            )
            incidents = tuple(
                IncidentView.of(i)
                for i in session.scalars(
                    select(Incident)
                    .where(Incident.instance_id == instance.id)
                    .order_by(Incident.id)
                )
            )
        return InstanceView(
            id=instance.id,
            process_id=info.process_id,
            version=info.version,
            status=instance.status,
            business_key=instance.business_key,
            data=data,
            ready_tasks=tasks,
            events=events,
            incidents=incidents,
        )


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


def task_uuid(task_id: str) -> UUID | None:
    """Return the UUID of a task id, or None for text that is not one."""
    try:
        return UUID(str(task_id))
    except ValueError:
        return None
