"""Drive registrations through the HTTP API as clerks, owners and the portal would."""

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from sqlalchemy import create_engine, select

from service_tasks.operators import build_operators, sandbox_store
from webapp.accounts import issue_token
from webapp.db.accounts import User, UserRole
from webapp.db.models import Instance
from webapp.db.session import make_session_factory
from webapp.online.documents import Documents
from webapp.runtime.engine import Runtime
from webapp.signing import DemoSigner

CONSENT = {"consent_given": True}
CHECK = {
    "identity_document_checked": True,
    "authority_checked": True,
    "owner_consent_checked": True,
    "check_result": "accepted",
}
CLERKS = 8
# Answers that say a repeated call found its work done already (after a lost answer).
DONE_ALREADY = (409,)
# What a request raises when its connection fails or its answer is cut off.
CONNECTION_ERRORS = (urllib3.exceptions.HTTPError,)


def refused(what: str, answer: urllib3.BaseHTTPResponse) -> RuntimeError:
    """Return the error of a request the application refused, with the start of its answer."""
    return RuntimeError(f"{what}: {answer.status} {answer.data[:300].decode(errors='replace')}")


@dataclass
class Timings:
    """Latency of every request, by kind; failed attempts counted apart."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, elapsed: float, ok: bool) -> None:
        """Record one request."""
        with self.lock:
            if ok:
                self.seconds[kind].append(elapsed)
            else:
                self.failures[kind] += 1


def create_users(database_url: str, owners: list[str]) -> dict[str, str]:
    """Create the clerks and the owners (applicant role, by IIN); return their API tokens.

    The users never sign in with a password, so none is hashed: the load test measures the
    process, not scrypt.
    """
    engine = create_engine(database_url)
    sessions = make_session_factory(engine)
    tokens = {}
    with sessions.begin() as session:
        people = [(f"load-clerk-{k}", "clerk", None) for k in range(CLERKS)]
        people += [(f"owner-{iin}", "applicant", iin) for iin in owners]
        for username, role, iin in people:
            session.add(
                User(username=username, password_hash="!", iin=iin,
                     role_rows=[UserRole(role=role)])
            )  # fmt: skip
        session.flush()
        for username, _role, _iin in people:
            tokens[username] = issue_token(session, username)
    engine.dispose()
    return tokens


def local_registries(dataset_file: Path, database: Path) -> str:
    """Load the data set into sandbox registries in a SQLite file of the generator's own, as
    `tirkeu registries load` loads the product's; return their URL.

    The documents people sign show names by IIN, the address by ARC and the owners on title.
    The run's registry writes change only a person's registrations (and so how many are
    registered at an ARC, which no document shows) and the write log: names, premises and
    owners stay as loaded. So a document rendered from this copy reads as the product renders
    it from its own registries, loaded from the same data set (in sandbox or HTTP mode: never
    through the faulty stub, as a citizen's page shows the document before any fault), and its
    lookups cost neither PostgreSQL nor the cores the product runs on.
    """
    settings = {"registry_url": f"sqlite:///{database}"}
    store = sandbox_store(settings)
    store.load_dataset_file(dataset_file)
    store.dispose()
    return settings["registry_url"]


class Driver:
    """Carries applications through the API, retrying calls that fail on the way."""

    def __init__(
        self,
        url: str,
        tokens: dict[str, str],
        database_url: str,
        timings: Timings,
        signer: DemoSigner,
        registry_url: str,
        applications: list[dict],
    ):
        self.url = url
        self.tokens = tokens
        self.timings = timings
        self.local = threading.local()
        self.engine = create_engine(database_url, pool_size=2, max_overflow=2)
        self.ambiguous_starts = 0
        # Applicants and owners sign as the portal's people do, under a CA the web trusts; the
        # documents they sign are the product's, rendered from the deployed process and the
        # instances under test, with the registries' facts from `registry_url` (a copy of the
        # data set: `local_registries`).
        self.signer = signer
        renderer = Documents(build_operators({"registry_url": registry_url}))
        self.documents = Runtime(make_session_factory(self.engine), {}, documents=renderer)
        # Made before the clock starts: a start body depends on nothing the run changes.
        self.start_bodies = {a["number"]: self.start_body(a) for a in applications}

    def start_body(self, application: dict) -> dict:
        """Return the body that starts an application, signed by its applicant."""
        data = application["data"]
        signing = self.documents.start_signing("residence_registration", data)
        return {"process_id": "residence_registration", "data": self.signer.signed(data, signing)}

    def client(self) -> urllib3.HTTPConnectionPool:
        """Return this thread's keep-alive connection to the web processes.

        The load generator shares the cores with what it measures: urllib3 costs a fraction of
        httpx per request. Failed requests are not retried here but by the scenario, which
        knows which repeats are safe.
        """
        if not hasattr(self.local, "client"):
            parts = urlsplit(self.url)
            self.local.client = urllib3.HTTPConnectionPool(
                parts.hostname, parts.port, maxsize=1, retries=False, timeout=60
            )
        return self.local.client

    def call(self, kind: str, who: str, path: str, body: dict) -> urllib3.BaseHTTPResponse | None:
        """POST once; return the answer, or None when the connection failed."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        began = time.perf_counter()
        try:
            answer = self.client().request("POST", path, body=json.dumps(body), headers={
                **headers, "Content-Type": "application/json"})  # fmt: skip
        except CONNECTION_ERRORS:
            self.timings.add(kind, time.perf_counter() - began, ok=False)
            return None
        ok = answer.status < 300
        self.timings.add(kind, time.perf_counter() - began, ok=ok)
        return answer

    def retried(self, kind: str, who: str, path: str, body: dict, attempts: int = 20) -> bool:
        """POST until it succeeds or answers that the work is done; True on either."""
        for attempt in range(attempts):
            answer = self.call(kind, who, path, body)
            if answer is not None and answer.status < 300:
                return True
            if answer is not None and attempt and answer.status in DONE_ALREADY:
                return True
            if answer is not None and answer.status < 500 and answer.status != 429:
                raise refused(f"{kind} {path}", answer)
            time.sleep(min(0.2 * 2**attempt, 3))
        return False

    def started(self, number: str) -> dict | None:
        """Return the instance a lost start answer may have created, by application number."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(Instance.id).where(Instance.business_key == number)
            ).first()
        return {"id": row.id} if row else None

    def start(self, application: dict, clerk: str) -> dict:
        """Start the application once, even if an answer is lost on the way."""
        body = self.start_bodies[application["number"]]
        # A start reads three or four registries; with a twelfth of calls failing and processes
        # killed every few seconds, a client may need a couple of minutes to get through.
        for attempt in range(40):
            answer = self.call("start", clerk, "/api/v1/instances", body)
            if answer is not None and answer.status == 201:
                return answer.json()
            if answer is not None and answer.status < 500:
                raise refused("start", answer)
            # The request may have committed before its process died: look before starting again.
            made = self.started(application["number"])
            if made is not None:
                self.ambiguous_starts += 1
                return self.instance(made["id"], clerk)
            time.sleep(min(0.2 * 2**attempt, 3))
        raise RuntimeError(f"could not start {application['number']}")

    def instance(self, instance_id: int, clerk: str) -> dict:
        """Read an instance through the API until it answers."""
        headers = {"Authorization": f"Bearer {self.tokens[clerk]}"}
        for attempt in range(20):
            began = time.perf_counter()
            try:
                answer = self.client().request(
                    "GET", f"/api/v1/instances/{instance_id}", headers=headers
                )
                self.timings.add("read", time.perf_counter() - began, answer.status < 300)
                if answer.status == 200:
                    return answer.json()
            except CONNECTION_ERRORS:
                self.timings.add("read", time.perf_counter() - began, ok=False)
            time.sleep(min(0.2 * 2**attempt, 3))
        raise RuntimeError(f"could not read instance {instance_id}")

    def work(self, who: str, task_id: str, data: dict, held: bool = False) -> None:
        """Claim (unless `who` holds it already) and complete a task as `who`."""
        if not held and not self.retried("claim", who, f"/api/v1/tasks/{task_id}/claim", {}):
            raise RuntimeError(f"could not claim {task_id}")
        if not self.retried("complete", who, f"/api/v1/tasks/{task_id}/complete", {"data": data}):
            raise RuntimeError(f"could not complete {task_id}")

    def run(self, index: int, application: dict) -> None:
        """Carry one application as far as people take it; timers and retries do the rest."""
        clerk = f"load-clerk-{index % CLERKS}"
        view = self.start(application, clerk)
        if application["path"] == "timeout":
            return
        wanted = "Task_GiveConsent" if application["path"] == "consent" else "Task_CheckDocuments"
        # Registry retries back off 10, 20, 40... seconds: wait up to five minutes.
        for _ in range(150):
            tasks = [t for t in view.get("ready_tasks", []) if t["bpmn_id"] == wanted]
            if tasks:
                break
            # A registry error held the instance before the task: wait for the retry.
            time.sleep(2)
            view = self.instance(view["id"], clerk)
        else:
            raise RuntimeError(f"{application['number']}: no {wanted} task appeared")
        if application["path"] == "consent":
            task_id = tasks[0]["id"]
            answer = self.signer.signed(CONSENT, self.documents.task_signing(task_id, CONSENT))
            # The task is the owner's own: the portal answers it without claiming it first.
            self.work(f"owner-{application['owner']}", task_id, answer, held=True)
        else:
            # The clerk who starts a counter application holds its check from the start.
            self.work(clerk, tasks[0]["id"], CHECK, held=tasks[0].get("claimed_by") == clerk)
