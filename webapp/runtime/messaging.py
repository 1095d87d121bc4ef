"""Messages between instances and from outside, and the worker's due jobs."""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, Instance, Job, MessageSubscription, ProcessVersion

from . import inputs
from .deployments import IN_EFFECT
from .errors import Conflict, NotFound, TirkeuError
from .steps import Step
from .thrown import MESSAGE_JOB, consume
from .views import InstanceView
from .waits import correlation_key

log = logging.getLogger(__name__)


class Messaging:
    """The runtime's messages and jobs (mixed into `Runtime`)."""

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

    def _start_by_message(
        self,
        session: Session,
        name: str,
        payload: dict,
        correlation: dict,
        outbox_job: int | None = None,
    ) -> InstanceView:
        """Start the newest process whose message start event takes this message."""
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
        step = self._start(session, self.versions.get(session, starters[0]), {}, None, message)
        consume(session, outbox_job)
        view = step.finish()
        session.commit()
        self._committed(step)
        return view

    def _deliver_outbox(self, step: Step) -> None:
        """Deliver the messages a committed step threw now; what fails, the worker tries again."""
        for job in step.outbox:
            try:
                self.deliver_thrown(job["instance_id"], job["task_id"], step.now)
            except Exception:
                # The step is committed and its message kept: the worker delivers it later.
                log.exception("message of instance %s not delivered yet", job["instance_id"])

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
        """Count a failed delivery: try again on the backoff, or drop it with an event."""
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
