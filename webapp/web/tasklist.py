"""Task-list queries on the human_task read model: tabs, filters, search and keyset pages."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, HumanTaskKey, Instance
from webapp.privacy import View

OPEN_STATES = ("ready", "claimed")
TABS = ("mine", "queue", "all")
PAGE_SIZE = 25  # a clerk works the most urgent tasks first; the next page is one click
# Tab counts stop here ("100+"): each count walks at most this many index entries, so a tab
# costs the same with a thousand open tasks or a hundred thousand.
COUNT_LIMIT = 100
# The most tasks a search by IIN finds for one person.
SEARCH_LIMIT = 1000


@dataclass(frozen=True)
class Worker:
    """Who is asking: user name, IIN (tasks of applicants are assigned by IIN) and roles."""

    username: str
    iin: str | None
    roles: frozenset[str]


@dataclass(frozen=True)
class TaskFilter:
    """The filters of a task list; empty values filter nothing."""

    tab: str = "mine"
    name: str = ""
    state: str = ""
    channel: str = ""
    overdue: bool = False
    search: str = ""


def filters_from(args: Mapping[str, str], tab: str | None = None) -> TaskFilter:
    """Return the filters given in a query string; `tab` overrides the one asked for."""
    return TaskFilter(
        tab=tab or args.get("tab", "mine"),
        name=args.get("name", "").strip(),
        state=args.get("state", ""),
        channel=args.get("channel", ""),
        overdue=args.get("overdue") in ("1", "on", "true"),
        search=args.get("q", "").strip(),
    )


def cursor_from(args: Mapping[str, str]) -> str | None:
    """Return the page cursor of a query string; raise ValueError if it is not one of ours."""
    cursor = args.get("after") or None
    if cursor is not None and not valid_cursor(cursor):
        raise ValueError(cursor)
    return cursor


@dataclass(frozen=True)
class TaskPage:
    """One page of tasks and the cursor of the next page, if there is one."""

    tasks: list[HumanTask]
    next_cursor: str | None


def identities(worker: Worker) -> list[str]:
    """Return the names a task can be assigned to the worker by: user name and IIN."""
    return [worker.username] + ([worker.iin] if worker.iin else [])


def may_work(task: HumanTask, worker: Worker) -> bool:
    """Tell whether the worker may open and act on a task (role, assignment or supervisor)."""
    return (
        "supervisor" in worker.roles
        or task.role in worker.roles
        or task.claimed_by == worker.username
        or (task.assignee is not None and task.assignee in identities(worker))
    )


def may_act(task: HumanTask, worker: Worker) -> bool:
    """Tell whether the worker may claim, complete, refuse or give away a task.

    A task assigned to a person (an owner's consent) is theirs alone: others, supervisors too,
    may open it but not act on it, as the runtime's step refuses them.
    """
    if task.assignee is not None:
        return task.assignee in identities(worker)
    return may_work(task, worker)


def _tab_parts(tab: str, worker: Worker) -> list[ColumnElement[bool]]:
    """Return disjoint conditions whose union, within the tab's states, is the tab.

    Each part is a plain equality the (state, claimed_by | assignee | role, due_at) indexes
    answer in due order; an OR of them would make the database walk every open task.
    """
    if tab == "mine":
        not_mine = or_(HumanTask.claimed_by.is_(None), HumanTask.claimed_by != worker.username)
        return [HumanTask.claimed_by == worker.username] + [
            and_(HumanTask.assignee == name, not_mine) for name in identities(worker)
        ]
    if tab == "queue":
        return [
            and_(
                HumanTask.role == role,
                HumanTask.claimed_by.is_(None),
                HumanTask.assignee.is_(None),
            )
            for role in sorted(worker.roles)
        ]
    return [true()]


def tab_states(tab: str, state: str = "") -> tuple[str, ...]:
    """Return the task states a tab shows, narrowed to one if a state filter is given."""
    states = ("ready",) if tab == "queue" else OPEN_STATES
    return tuple(s for s in states if s == state) if state else states


def _filter_conditions(filters: TaskFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.name:
        pattern = filters.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(HumanTask.name.ilike(f"%{pattern}%", escape="\\"))
    if filters.overdue:
        conditions.append(HumanTask.due_at < now)
    if filters.channel:
        conditions.append(HumanTask.channel == filters.channel)
    search = filters.search.strip()
    if search and not is_key_search(search):
        conditions.append(HumanTask.business_key == search)
    return conditions


def is_key_search(search: str) -> bool:
    """Tell whether a search is for a task's search key (an IIN), not an application number."""
    return search.isdigit() and len(search) == 12


def _searched_task_ids(session: Session, filters: TaskFilter) -> list[str] | None:
    """Return the ids of the tasks whose search keys match the search; None if it is not one."""
    search = filters.search.strip()
    if not is_key_search(search):
        return None
    keyed = select(HumanTaskKey.task_id).where(HumanTaskKey.key == search)
    return list(session.scalars(keyed.limit(SEARCH_LIMIT)))


def encode_cursor(task: HumanTask) -> str:
    """Return the cursor that continues after this task (safe in a query string as it is)."""
    due = task.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if task.due_at else ""
    return f"{due}~{task.id}"


def valid_cursor(cursor: str) -> bool:
    """Tell whether a cursor from a query string can be used."""
    due_text, separator, task_id = cursor.rpartition("~")
    if not separator or not task_id:
        return False
    try:
        if due_text:
            datetime.fromisoformat(due_text)
    except ValueError:
        return False
    return True


def list_tasks(
    session: Session,
    worker: Worker,
    filters: TaskFilter,
    now: datetime,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> TaskPage:
    """Return one page of the tab's tasks by due time, the soonest due first.

    Tasks with a due time come first in (due_at, id) order, then those without one in id
    order. Every state and part of the tab is its own small query that walks an index in
    order (see `_tab_parts`); the pieces are merged here.
    """
    filtered = _filter_conditions(filters, now)
    found = _searched_task_ids(session, filters)
    state_column: ColumnElement[str] = HumanTask.state
    if found is not None:
        # A person's few tasks are read by primary key and put in order here. The state is
        # compared as an expression so that no (state, ...) index tempts the database into
        # walking every open task in due order to find the few.
        filtered.append(HumanTask.id.in_(found))
        state_column = HumanTask.state + ""
    pieces = [
        and_(state_column == state, part, *filtered)
        for state in tab_states(filters.tab, filters.state)
        for part in _tab_parts(filters.tab, worker)
    ]
    due_text, _, last_id = (cursor or "").rpartition("~")
    rows: list[HumanTask] = []
    if not cursor or due_text:
        after = HumanTask.due_at.is_not(None)
        if cursor:
            due = datetime.fromisoformat(due_text)
            after = or_(
                HumanTask.due_at > due, and_(HumanTask.due_at == due, HumanTask.id > last_id)
            )
        order = (HumanTask.due_at, HumanTask.id)
        for piece in pieces:
            query = select(HumanTask).where(piece, after)
            if found is None:
                query = query.order_by(*order).limit(limit + 1)
            rows += session.scalars(query)
        rows = sorted(rows, key=lambda task: (task.due_at, task.id))[: limit + 1]
        last_id = ""
    if len(rows) <= limit:
        wanted = limit + 1 - len(rows)
        undated: list[HumanTask] = []
        for piece in pieces:
            query = select(HumanTask).where(
                piece, HumanTask.due_at.is_(None), HumanTask.id > last_id
            )
            if found is None:
                query = query.order_by(HumanTask.id).limit(wanted)
            undated += session.scalars(query)
        rows += sorted(undated, key=lambda task: task.id)[:wanted]
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return TaskPage(rows[:limit], next_cursor)


def person_names(session: Session, tasks: list[HumanTask], view: View) -> dict[int, str]:
    """Return the name of the person each task's application registers, as the viewer may see it.

    The name is in the instances' summaries (one primary-key read for the page's instances),
    so the list never opens a workflow; the privacy policy decides how much of it shows.
    """
    ids = {task.instance_id for task in tasks}
    if not ids:
        return {}
    rows = session.execute(select(Instance.id, Instance.summary).where(Instance.id.in_(ids)))
    names = {}
    for instance_id, summary in rows:
        name = (summary or {}).get("person_full_name")
        if isinstance(name, str) and name:
            names[instance_id] = view(name, "person_full_name")
    return names


def _bounded_count(condition: ColumnElement[bool]) -> Select:
    """Return a count that stops at COUNT_LIMIT, so a tab's count costs the same at any size."""
    capped = select(HumanTask.id).where(condition).limit(COUNT_LIMIT).subquery()
    return select(func.count()).select_from(capped)


def count_tabs(session: Session, worker: Worker, tabs: tuple[str, ...]) -> dict[str, int]:
    """Return the number of open tasks in each tab, up to COUNT_LIMIT."""
    counts = {}
    for tab in tabs:
        total = 0
        for state in tab_states(tab):
            for part in _tab_parts(tab, worker):
                total += session.scalar(_bounded_count(and_(HumanTask.state == state, part)))
        counts[tab] = min(total, COUNT_LIMIT)
    return counts


def supervisor_escalations(session: Session, limit: int = PAGE_SIZE) -> list[HumanTask]:
    """Return the open tasks escalated to supervisors, the soonest due first."""
    query = (
        select(HumanTask)
        .where(HumanTask.state.in_(OPEN_STATES), HumanTask.role == "supervisor")
        .order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_overdue(session: Session, now: datetime) -> int:
    """Return the number of open tasks past their due time, up to COUNT_LIMIT."""
    condition = and_(HumanTask.state.in_(OPEN_STATES), HumanTask.due_at < now)
    return session.scalar(_bounded_count(condition))
