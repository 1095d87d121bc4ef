"""Task-list queries on the human_task read model: tabs, filters, search and keyset pages."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask, Instance

OPEN_STATES = ("ready", "claimed")
TABS = ("mine", "queue", "all")
PAGE_SIZE = 50


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


def tab_condition(tab: str, worker: Worker) -> ColumnElement[bool]:
    """Return the condition that selects a tab's tasks for the worker."""
    if tab == "mine":
        return and_(
            HumanTask.state.in_(OPEN_STATES),
            or_(
                HumanTask.claimed_by == worker.username,
                HumanTask.assignee.in_(identities(worker)),
            ),
        )
    if tab == "queue":
        if not worker.roles:
            return false()
        return and_(
            HumanTask.state == "ready",
            HumanTask.role.in_(sorted(worker.roles)),
            HumanTask.claimed_by.is_(None),
            HumanTask.assignee.is_(None),
        )
    return HumanTask.state.in_(OPEN_STATES)


def _filter_conditions(filters: TaskFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions = []
    if filters.name:
        pattern = filters.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(HumanTask.name.ilike(f"%{pattern}%", escape="\\"))
    if filters.state in OPEN_STATES:
        conditions.append(HumanTask.state == filters.state)
    if filters.overdue:
        conditions.append(HumanTask.due_at < now)
    if filters.channel:
        conditions.append(
            HumanTask.instance_id.in_(
                select(Instance.id).where(
                    Instance.summary["channel"].as_string() == filters.channel
                )
            )
        )
    search = filters.search.strip()
    if search.isdigit() and len(search) == 12:
        conditions.append(
            HumanTask.instance_id.in_(
                select(Instance.id).where(
                    or_(
                        Instance.summary["applicant_iin"].as_string() == search,
                        Instance.summary["person_iin"].as_string() == search,
                    )
                )
            )
        )
    elif search:
        conditions.append(HumanTask.business_key == search)
    return conditions


def encode_cursor(task: HumanTask) -> str:
    """Return the cursor that continues after this task (safe in a query string as it is)."""
    due = task.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if task.due_at else ""
    return f"{due}~{task.id}"


def _after(cursor: str) -> ColumnElement[bool]:
    """Return the condition for tasks after the cursor in (due time, id) order."""
    due_text, _, task_id = cursor.rpartition("~")
    if not due_text:
        return and_(HumanTask.due_at.is_(None), HumanTask.id > task_id)
    due = datetime.fromisoformat(due_text)
    return or_(
        HumanTask.due_at > due,
        and_(HumanTask.due_at == due, HumanTask.id > task_id),
        HumanTask.due_at.is_(None),
    )


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
    """Return one page of the tab's tasks by due time, the soonest due first."""
    query = select(HumanTask).where(
        tab_condition(filters.tab, worker), *_filter_conditions(filters, now)
    )
    if cursor:
        query = query.where(_after(cursor))
    query = query.order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.id).limit(limit + 1)
    rows = list(session.scalars(query))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return TaskPage(rows[:limit], next_cursor)


def count_tabs(session: Session, worker: Worker, tabs: tuple[str, ...]) -> dict[str, int]:
    """Return the number of open tasks in each tab."""
    return {
        tab: session.scalar(
            select(func.count()).select_from(HumanTask).where(tab_condition(tab, worker))
        )
        for tab in tabs
    }


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
    """Return the number of open tasks past their due time."""
    query = select(func.count()).where(HumanTask.state.in_(OPEN_STATES), HumanTask.due_at < now)
    return session.scalar(query)
