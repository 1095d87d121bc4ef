"""Drive one application through the real runtime and read what it did to the registries."""

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

from service_tasks.sandbox import SandboxStore
from webapp.bootstrap import bundles, read_bundle
from webapp.db.base import utcnow
from webapp.db.models import HumanTask
from webapp.runtime.engine import Runtime
from webapp.runtime.views import EventView, InstanceView, TaskView
from webapp.signing import DemoSigner

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PROCESS_ID = "residence_registration"
SETTINGS = json.loads((PROCESSES / "settings.json").read_text())
# The personas the path tests name, in the sandbox data set format.
REGISTRIES = json.loads(Path(__file__).with_name("registries.json").read_text())
# The sandbox's write log names: registration point, closure, ID card rewrite.
REGISTRY_WRITES = ("register", "idcard")


def deploy_registration(runtime: Runtime) -> None:
    """Deploy the residence registration folder, as `tirkeu init` does."""
    [bundle] = bundles([PROCESSES / PROCESS_ID])
    runtime.deploy(read_bundle(bundle), deployed_by="tests")


class ProcessDriver:
    """One application on the runtime: start, complete its tasks, fire its timers.

    Acts the diagram requires to be signed are signed by the person it names, with the test
    CA's certificates (`signer`), which the runtime verifies.
    """

    def __init__(self, runtime: Runtime, store: SandboxStore, signer: DemoSigner) -> None:
        self.runtime = runtime
        self.store = store
        self.signer = signer
        self.instance_id: int | None = None
        self.application_number: str | None = None

    def load(self, dataset: dict) -> None:
        """Replace the sandbox registries' data with a data set."""
        self.store.load_dataset(dataset)

    def start(self, document: dict) -> InstanceView:
        """Start an application and run it until it waits."""
        signing = self.runtime.start_signing(PROCESS_ID, document)
        view = self.runtime.start(PROCESS_ID, self.signer.signed(document, signing))
        self.instance_id = view.id
        self.application_number = view.data["application_number"]
        return view

    def ready_tasks(self) -> list[TaskView]:
        """Return the application's open user tasks, oldest first."""
        return self.runtime.ready_tasks(self.instance_id)

    def ready_ids(self) -> list[str]:
        """Return the bpmn ids of the open user tasks, sorted."""
        return sorted(t.bpmn_id for t in self.ready_tasks())

    def task(self, wanted: str | TaskView) -> TaskView:
        """Return the one open task with this id or bpmn id."""
        key = wanted.id if isinstance(wanted, TaskView) else wanted
        matches = [t for t in self.ready_tasks() if key in (t.id, t.bpmn_id)]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} ready tasks match {key!r}")
        return matches[0]

    def task_data(self, task: TaskView) -> dict:
        """Return the data an open task shows its worker."""
        return self.runtime.task_data(task.id)

    def instructions(self, task: TaskView) -> str:
        """Return a task's rendered instructions from the task list."""
        with self.runtime.transaction() as session:
            return session.get(HumanTask, task.id).instructions or ""

    def complete(
        self, wanted: str | TaskView, data: dict | None = None, actor: str | None = None
    ) -> InstanceView:
        """Complete an open task as its assignee (or its role), then run on."""
        task = self.task(wanted)
        actor = actor or task.assignee or task.role
        data = data or {}
        data = self.signer.signed(data, self.runtime.task_signing(task.id, data))
        return self.runtime.complete(task.id, data, actor=actor)

    def run_jobs(self, after: timedelta) -> InstanceView:
        """Run the worker as if `after` had passed: due timers fire, due retries run."""
        self.runtime.run_due_jobs(now=utcnow() + after)
        return self.instance()

    def instance(self) -> InstanceView:
        """Return the application's instance with its events and incidents."""
        return self.runtime.instance(self.instance_id)

    def events(
        self, kind: str, bpmn_id: str | None = None, task_type: str | None = None
    ) -> list[EventView]:
        """Return the recorded events of a kind, optionally of one element and task type.

        A multi-instance element records events of its own besides its instances', under the
        same bpmn id: `task_type` tells them apart (`UserTask`, `ParallelMultiInstanceTask`).
        """
        return [
            e
            for e in self.instance().events
            if e.kind == kind and bpmn_id in (None, e.bpmn_id) and task_type in (None, e.task_type)
        ]

    def writes(self) -> Counter:
        """Count the registry writes (registration, ID card) of the application."""
        logged = self.store.writes(application_number=self.application_number)
        return Counter(w["operation"] for w in logged if w["operation"] in REGISTRY_WRITES)

    def write(self, operation: str) -> dict:
        """Return the one logged write of an operation for the application."""
        [logged] = self.store.writes(operation, self.application_number)
        return logged

    def notices(self) -> list[tuple[str, str]]:
        """List the notices sent for the application as (recipient IIN, template), in order."""
        logged = self.store.writes("notify", self.application_number)
        return [(w["iin"], w["payload"]["template"]) for w in logged]
