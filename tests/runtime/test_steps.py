"""What one step costs the database: its statements and connection checkouts, pinned.

A counter registration (the clerk starts it and holds its check, then completes the check)
runs on the product's runtime with the sandbox registries on a file of their own, so the
figures are the runtime's alone. A new statement on this path has to be chosen: raise the
pinned figure in the same change that adds it.
"""

import pytest
from sqlalchemy import event, select

from tests.conftest import registration_product
from tests.web.conftest import application
from webapp.accounts import create_user
from webapp.db.models import HumanTask, InstanceEvent
from webapp.runtime import audit

CHECK = {"identity_document_checked": True, "check_result": "accepted"}
# Statements per step, not counting SQLite's BEGIN IMMEDIATE: the start reads the newest
# version, inserts the instance, asks the directory whether the clerk may hold the check,
# writes its task row, search key and due-time job, saves the state and appends the events;
# the completion locks the instance with the task's row, closes the row, drops the waits,
# saves the state and appends the events.
STATEMENTS = {"start": 8, "complete": 5}


class Counter:
    """Count the statements and pool checkouts of an engine while it is switched on."""

    def __init__(self, engine, monkeypatch) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)
        # On PostgreSQL a step's events are copied in, which SQLAlchemy's events do not see.
        insert_events = audit.insert_events

        def counted(db, events) -> None:
            if db.dialect.name == "postgresql":
                self.statements.append(audit.COPY_EVENTS)
            insert_events(db, events)

        monkeypatch.setattr(audit, "insert_events", counted)

    def _statement(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        if statement != "BEGIN IMMEDIATE":
            self.statements.append(statement)

    def _checkout(self, *_args) -> None:
        self.checkouts += 1

    def reset(self) -> None:
        """Start counting again."""
        self.statements.clear()
        self.checkouts = 0


@pytest.fixture
def product(database_url, tmp_path):
    """The product on the test's database, the registration deployed, one clerk."""
    product = registration_product(tmp_path, database_url, "steps")
    with product.session_factory.begin() as session:
        create_user(session, "clerk", "correct horse battery", ["clerk"])
    yield product
    product.engine.dispose()


def register(runtime, number: str) -> tuple[int, str]:
    """Start a counter registration held by its clerk; return its instance and check."""
    view = runtime.start("residence_registration", application(number), actor="clerk")
    [task] = [t for t in view.ready_tasks if t.bpmn_id == "Task_CheckDocuments"]
    assert (task.state, task.claimed_by) == ("claimed", "clerk")
    return view.id, task.id


def test_counter_registration_takes_one_checkout_and_the_pinned_statements_per_step(
    product, monkeypatch
):
    runtime = product.runtime
    first_id, first_check = register(runtime, "A-0001")  # the version and forms get cached
    runtime.complete(first_check, CHECK, actor="clerk")
    counter = Counter(product.engine, monkeypatch)

    instance_id, check = register(runtime, "A-0002")
    started = (len(counter.statements), counter.checkouts)
    counter.reset()
    done = runtime.complete(check, CHECK, actor="clerk")
    completed = (len(counter.statements), counter.checkouts)

    assert done.status == "completed"
    assert started == (STATEMENTS["start"], 1), counter.statements
    assert completed == (STATEMENTS["complete"], 1), counter.statements
    with product.session_factory() as session:
        kinds = {
            number: list(
                session.scalars(
                    select(InstanceEvent.kind)
                    .where(InstanceEvent.instance_id == number)
                    .order_by(InstanceEvent.id)
                )
            )
            for number in (first_id, instance_id)
        }
        row = session.get(HumanTask, check)
    # The counted registration wrote every event the first one did.
    assert kinds[instance_id] == kinds[first_id]
    assert kinds[instance_id][0] == "instance_started"
    assert kinds[instance_id][-1] == "instance_completed"
    assert {"task_ready", "claimed", "task_completed"} <= set(kinds[instance_id])
    assert (row.state, row.completed_by) == ("completed", "clerk")
