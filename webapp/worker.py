"""The worker: fires due timers and retries, delivers thrown messages, keeps dashboard days,
runs the process owners' simulations.

`tirkeu worker` runs it in its own process; `tirkeu serve` runs one in a thread beside granian.
"""

import logging
import threading
import time
from datetime import datetime, timedelta

from .analytics.days import keep_days
from .runtime.engine import Runtime
from .simulation import jobs

log = logging.getLogger(__name__)

KEEP_DAYS_EVERY = 3600.0  # seconds between two refreshes of the dashboard's kept days


class JobWorker(threading.Thread):
    """Sweep for due jobs every few seconds until stopped.

    One failing sweep is logged and the loop carries on, so a bad instance never stops the
    others' timers, and a lost database connection is found again on the next sweep.
    """

    def __init__(
        self,
        runtime: Runtime,
        interval: float = 5.0,
        identity: str = "worker",
        batch: int = 100,
        lease: timedelta = timedelta(minutes=5),
        now: datetime | None = None,
    ):
        super().__init__(name="tirkeu-worker", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self.identity = identity
        self.batch = batch
        self.lease = lease
        self.now = now
        self.stopped = threading.Event()
        self.days_due = time.monotonic()

    def sweep(self) -> int:
        """Run the due jobs once and return how many ran; log a failure instead of raising."""
        if time.monotonic() >= self.days_due:
            self.days_due = time.monotonic() + KEEP_DAYS_EVERY
            try:
                with self.runtime.session_factory() as session:
                    keep_days(session, self.now or self.runtime.clock())
            except Exception:
                log.exception("keeping the dashboard's days failed")
        try:
            ran = self.runtime.run_due_jobs(
                now=self.now, worker=self.identity, limit=self.batch, lease=self.lease
            )
        except Exception:
            log.exception("worker sweep failed")
            ran = 0
        if ran < self.batch:
            self.simulate()
        return ran

    def simulate(self) -> None:
        """Run one waiting simulation; a failing one is recorded by `jobs.run`, not raised."""
        try:
            jobs.run_next(self.runtime, self.identity)
        except Exception:
            log.exception("claiming a simulation failed")

    def run(self) -> None:
        """Sweep until stopped; a full batch means more may be due, so sweep again at once."""
        while not self.stopped.is_set():
            if self.sweep() < self.batch:
                self.stopped.wait(self.interval)

    def stop(self) -> None:
        """Ask the loop to end after the current sweep."""
        self.stopped.set()
