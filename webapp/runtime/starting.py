"""Starting instances: the data checked, the start signed where required, the row numbered."""

import re
from collections.abc import Mapping
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.db.models import Instance

from . import forms, inputs, signatures
from .errors import InvalidData, TakenKey
from .instance_data import json_safe
from .records import InstanceRecord
from .serializer import SERIALIZER_VERSION
from .specs import start_forms
from .steps import Step
from .versions import VersionInfo
from .views import InstanceView

INSERT_INSTANCE = insert(Instance).returning(Instance.id)
BUSINESS_KEY_LENGTH = Instance.business_key.type.length
NUMBERED_KEY = re.compile(r"A-[0-9]{6,}")


class Starting:
    """The runtime's starts (mixed into `Runtime`)."""

    def start(self, process_id: str, data: Mapping, actor: str | None = None) -> InstanceView:
        """Start an instance of the newest version and run it until it waits.

        Data refused by the start event's form, by the limits of `inputs` or by the product's
        rules for its fields (`field_rules`) raises InvalidData naming each field, and creates
        nothing.
        """
        if not isinstance(data, Mapping):
            raise InvalidData("start data must be a JSON object", {"data": "not an object"})
        with self.step_latency.measure("start"), self.transaction() as session:
            info = self.versions.latest(session, process_id)
            step = self._start(session, info, data, actor)
            view = step.finish()
        self._committed(step)
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
        data = inputs.check_data(data, "start data")
        name, checked = (message[0], message[1]) if message else (None, data)
        for form in start_forms(info.spec, name):
            schema = self.versions.form(session, info.deployment_id, form)
            forms.validate_form_data(schema, checked, self.formats, "start data")
        self._check_fields(checked)
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

    def _check_fields(self, data: Mapping) -> None:
        """Refuse start data a field of which breaks the product's rule for it."""
        problems = inputs.rule_problems(self.field_rules, data)
        if problems:
            message = "; ".join(f"{field}: {reason}" for field, reason in problems.items())
            raise InvalidData(f"the start data was refused: {message}", problems)

    def _start_signing(
        self, info: VersionInfo, data: Mapping, language: str
    ) -> signatures.Signing | None:
        """Return what the starter must sign to start this version with this data, if anything,
        with the document rendered in `language`."""
        evaluate = self.script_engine.environment.evaluate
        return signatures.start_signing(
            evaluate, info.spec, info.process_id, data, self.documents, language
        )

    def _signed_start(
        self, session: Session, info: VersionInfo, data: dict, actor: str | None, now: datetime
    ) -> dict:
        """Return the start data with its verified evidence, when the start must be signed.

        The document is rendered again here, in the language the evidence names: a signature
        counts only over the bytes this step builds from the submitted data.
        """
        language = signatures.start_language(info.spec, data)
        signing = self._start_signing(info, data, language)
        if signing is None:
            return data
        evidence = signatures.verify(
            self.verifier, session, signing, data.get(signing.field), actor, now
        )
        return {**data, signing.field: evidence}

    def start_signing(
        self, process_id: str, data: Mapping, language: str = signatures.DEFAULT_LANGUAGE
    ) -> signatures.Signing | None:
        """Return what the starter must sign to start the process with this data, if anything,
        with the document rendered in `language`."""
        with self.transaction() as session:
            info = self.versions.latest(session, process_id)
        return self._start_signing(info, json_safe(dict(data)), language)

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
                # Written with the state at the end of the step: the row is this step's alone
                # until then, and no supplied key can take this form.
                business_key = data[field] = f"A-{instance_id:06d}"
        except IntegrityError as error:
            reason = "another application already has this number"
            raise TakenKey(
                f"{field} {business_key!r} is taken by another application of {info.process_id}",
                {field: reason},
            ) from error
        return instance_id, business_key
