"""Eight workers complete the same ready task at once: exactly one wins, on every database."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.db.models import InstanceEvent
from webapp.runtime.errors import Conflict

from .conftest import bundle

THREADS = 8


def test_eight_concurrent_completions_of_one_task_make_exactly_one(runtime, engine):
    runtime.deploy(bundle("smoke.bpmn", "review.schema.json"))
    view = runtime.start("smoke", {"count": 1, "who": "alice"})
    task_id = view.ready_tasks[0].id
    barrier = Barrier(THREADS)

    def complete(worker: int) -> str:
        barrier.wait()
        try:
            runtime.complete(task_id, {"decision": "accept"}, actor=f"clerk{worker}")
        except Conflict:
            return "conflict"
        return "done"

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(complete, range(THREADS)))

    assert sorted(results) == ["conflict"] * (THREADS - 1) + ["done"]
    with Session(engine) as session:
        completions = session.scalar(
            select(func.count())
            .select_from(InstanceEvent)
            .where(InstanceEvent.kind == "task_completed", InstanceEvent.task_id == task_id)
        )
    assert completions == 1
    assert runtime.instance(view.id).status == "completed"


def test_sqlite_transactions_take_the_write_lock_when_they_begin(sqlite_url):
    """A read-then-write under a deferred BEGIN loses updates; BEGIN IMMEDIATE does not."""
    from sqlalchemy import text

    from webapp.db.session import make_engine

    engine = make_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (value INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    barrier = Barrier(THREADS)

    def increment(_worker: int) -> None:
        barrier.wait()
        for _ in range(10):
            with engine.begin() as connection:
                value = connection.execute(text("SELECT value FROM counter")).scalar_one()
                connection.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(increment, range(THREADS)))
    with engine.begin() as connection:
        assert connection.execute(text("SELECT value FROM counter")).scalar_one() == THREADS * 10
