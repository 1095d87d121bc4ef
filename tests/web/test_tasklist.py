"""Task-list queries: each tab's pages, read one after another, are the tab in due order.

The rows are written straight into the read model (one real instance holds them all), so that
the queries meet every mix of states, roles, claims, assignments and due times.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from tests.web.conftest import APPLICANT_IIN
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, HumanTaskKey, Instance
from webapp.web.tasklist import COUNT_LIMIT, TaskFilter, Worker, count_tabs, list_tasks

NOW = utcnow().replace(microsecond=0)
ME = Worker("clerk", "850314304175", frozenset({"clerk", "supervisor"}))
TASK = st.fixed_dictionaries(
    {
        "state": st.sampled_from(["ready", "claimed", "completed"]),
        "role": st.sampled_from(["clerk", "supervisor", "owner"]),
        "claimed_by": st.sampled_from([None, "clerk", "clerk2"]),
        "assignee": st.sampled_from([None, "clerk", "850314304175", "clerk2"]),
        # few distinct due times, so that ties and missing due times are common
        "due": st.one_of(st.none(), st.integers(min_value=-3, max_value=3)),
    }
)


@pytest.fixture
def add_row(sessions, start_check) -> Callable[..., str]:
    """Return a function that writes a clerk task row with the given columns; return its id."""
    instance_id = None

    def add(**columns) -> str:
        nonlocal instance_id
        with sessions.begin() as session:
            if instance_id is None:
                session.execute(delete(HumanTaskKey))
                session.execute(delete(HumanTask))
                instance_id = session.scalar(select(Instance.id))
            values = {
                "id": str(uuid.uuid4()), "instance_id": instance_id,
                "process_id": "residence_registration", "bpmn_id": "Task_CheckDocuments",
                "name": "Check documents at the counter", "role": "clerk", "state": "ready",
            }  # fmt: skip
            values.update(columns)
            session.execute(insert(HumanTask), [values])
            return values["id"]

    start_check()
    return add


def in_tab(task: dict, tab: str) -> bool:
    """Say, in plain Python, whether a task belongs to a tab of ME."""
    if task["state"] not in ("ready", "claimed"):
        return False
    if tab == "mine":
        return task["claimed_by"] == "clerk" or task["assignee"] in ("clerk", "850314304175")
    if tab == "queue":
        return (
            task["state"] == "ready"
            and task["role"] in ME.roles
            and task["claimed_by"] is None
            and task["assignee"] is None
        )
    return True


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tasks=st.lists(TASK, max_size=25), limit=st.integers(min_value=1, max_value=4))
def test_pages_read_in_turn_give_each_tab_once_in_due_order(sessions, add_row, tasks, limit):
    with sessions.begin() as session:
        session.execute(delete(HumanTaskKey))
        session.execute(delete(HumanTask))
    for task in tasks:
        due = None if task["due"] is None else NOW + timedelta(minutes=task["due"])
        columns = {k: task[k] for k in ("state", "role", "claimed_by", "assignee")}
        task_id = add_row(due_at=due, **columns)
        task["id"], task["due_at"] = task_id, due
    for tab in ("mine", "queue", "all"):
        expected = sorted(
            (t for t in tasks if in_tab(t, tab)),
            key=lambda t: (t["due_at"] is None, t["due_at"] or NOW, t["id"]),
        )
        seen, cursor = [], None
        with sessions.begin() as session:
            while True:
                page = list_tasks(session, ME, TaskFilter(tab=tab), NOW, cursor, limit)
                seen += [task.id for task in page.tasks]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert seen == [t["id"] for t in expected], tab
            assert count_tabs(session, ME, (tab,))[tab] == len(expected)


def test_state_and_overdue_filters_apply_to_every_piece(sessions, add_row):
    late = add_row(state="claimed", claimed_by="clerk", due_at=NOW)
    add_row(state="ready", assignee="clerk", due_at=NOW + timedelta(hours=1))
    add_row(state="claimed", claimed_by="clerk", due_at=None)
    with sessions.begin() as session:
        claimed = list_tasks(session, ME, TaskFilter(tab="mine", state="claimed"), NOW)
        overdue = list_tasks(
            session, ME, TaskFilter(tab="mine", overdue=True), NOW + timedelta(minutes=1)
        )
    assert len(claimed.tasks) == 2
    assert [task.id for task in overdue.tasks] == [late]


def test_counts_stop_at_the_counting_limit(sessions, add_row):
    for _ in range(COUNT_LIMIT + 5):
        add_row(due_at=NOW)
    with sessions.begin() as session:
        counts = count_tabs(session, ME, ("queue", "all"))
    assert counts == {"queue": COUNT_LIMIT, "all": COUNT_LIMIT}


def test_task_rows_carry_the_channel_and_the_searchable_iins(sessions, start_check):
    task_id = start_check(person_iin=APPLICANT_IIN)
    with sessions.begin() as session:
        assert session.get(HumanTask, task_id).channel == "service_centre"
        keys = session.scalars(select(HumanTaskKey.key).where(HumanTaskKey.task_id == task_id))
        assert set(keys) == {APPLICANT_IIN}


def test_search_by_iin_gives_the_persons_tasks_in_due_order_page_by_page(sessions, add_row):
    wanted = [add_row(due_at=NOW + timedelta(minutes=minute)) for minute in (3, -1, 2)]
    add_row(due_at=NOW)
    with sessions.begin() as session:
        session.execute(
            insert(HumanTaskKey), [{"task_id": i, "key": APPLICANT_IIN} for i in wanted]
        )
    searched = TaskFilter(tab="all", search=APPLICANT_IIN)
    with sessions.begin() as session:
        first = list_tasks(session, ME, searched, NOW, limit=2)
        rest = list_tasks(session, ME, searched, NOW, first.next_cursor, limit=2)
        nobody = list_tasks(session, ME, TaskFilter(tab="all", search="621102401239"), NOW)
    assert [t.id for t in first.tasks + rest.tasks] == [wanted[1], wanted[2], wanted[0]]
    assert rest.next_cursor is None and nobody.tasks == []
