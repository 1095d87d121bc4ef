"""The JSON API under /api/v1: tasks, instances and messages, for programs.

Programs authenticate with `Authorization: Bearer TOKEN`. A call made with the browser's
session cookie instead must carry the CSRF token when it changes anything.
"""

import dataclasses
import json
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, g, jsonify, request
from flask_login import current_user
from sqlalchemy import bindparam, select
from werkzeug.exceptions import HTTPException

from webapp.db.base import utcnow
from webapp.db.models import HumanTask
from webapp.runtime import repair, variable_edit
from webapp.runtime.assignment import MayAct
from webapp.runtime.errors import TirkeuError
from webapp.runtime.views import InstanceView

from .auth import authenticate_bearer, personal_view, role_required
from .database import db, engine, runtime
from .security import csrf
from .tasklist import Worker, cursor_from, filters_from, list_tasks, may_act, person_names

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.json")
TASK_FIELDS = (
    "id", "instance_id", "process_id", "business_key", "bpmn_id", "name", "lane", "role",
    "assignee", "claimed_by", "state", "due_at", "created_at", "claimed_at",
)  # fmt: skip
WORK_ROLES = ("clerk", "supervisor", "applicant")
# Process owners try their processes in the sandbox (process tests) and never move real
# instances: starting one or delivering a message to one is for the staff who own the case.
START_ROLES = ("clerk", "supervisor", "administrator")
READ_ROLES = ("clerk", "supervisor", "analyst", "administrator", "process_owner")
MESSAGE_ROLES = ("administrator",)
REPAIR_ROLES = ("administrator",)
T = TypeVar("T")
# What deciding whether the caller may act on a task reads, when a refused call is answered.
WHO_MAY_ACT = select(HumanTask.assignee, HumanTask.role, HumanTask.claimed_by).where(
    HumanTask.id == bindparam("task_id")
)


def plain(value: Any) -> Any:
    """Return the value with dataclasses, dates and tuples turned into JSON types."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    names = field_names(type(value))
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    return value


@cache
def field_names(kind: type) -> tuple[str, ...] | None:
    """Return the field names of a dataclass, None for any other type (asked once a type)."""
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(field.name for field in dataclasses.fields(kind))


def shown(instance: InstanceView) -> Response:
    """Answer with an instance, its people's data as the caller may see it."""
    return jsonify(plain(personal_view().instance(instance)))


def task_json(task: HumanTask) -> dict[str, Any]:
    """Return a task row as JSON."""
    return {name: plain(getattr(task, name)) for name in TASK_FIELDS}


@bp.before_request
def authenticate_call() -> None:
    """Find the caller by bearer token, or by session cookie with a CSRF check on changes."""
    if request.endpoint == "api.openapi" or authenticate_bearer():
        return
    if not current_user.is_authenticated:
        abort(401)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    g.api_user = current_user


@bp.after_request
def no_store(response: Response) -> Response:
    """Keep API answers out of shared caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def body() -> dict[str, Any]:
    """Return the JSON object sent with the call, or answer 400 saying what is wrong."""
    payload = request.get_json() if request.is_json else None
    if not isinstance(payload, dict):
        abort(400, description="the body must be a JSON object")
    return payload


def caller() -> Worker:
    """Return the caller as the task lists see them."""
    return Worker(g.api_user.username, g.api_user.iin, g.api_user.roles)


def check_workable(task_id: str) -> None:
    """Answer 404 or 403 unless the task exists and the caller may act on it."""
    # One statement on a connection of its own: the ORM session's transaction would cost more
    # than the query. No request's session holds a transaction here (authentication ended it).
    with engine().begin() as connection:
        task = connection.execute(WHO_MAY_ACT, {"task_id": task_id}).first()
    if task is None:
        abort(404)
    if not may_act(task, caller()):
        abort(403)


def act_on_task(task_id: str, act: Callable[[MayAct], T]) -> T:
    """Run a task act whose own transaction refuses a caller who may not act on the task.

    The act's step applies `may_act` to the task's row under its lock, so deciding costs no
    transaction of its own. A refused act (or a body refused before it) is answered as the
    check before the act would have answered it: an unknown task or a caller who may not
    act on it first, whatever else is wrong with the request.
    """
    worker = caller()
    try:
        return act(lambda task: may_act(task, worker))
    except (TirkeuError, HTTPException):
        check_workable(task_id)
        raise


@bp.get("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI document of this API."""
    return jsonify(json.loads(OPENAPI.read_text(encoding="utf-8")))


@bp.get("/tasks")
@role_required(*WORK_ROLES)
def tasks() -> Response:
    """List open tasks of a tab, filtered, by due time, one page at a time."""
    filters = filters_from(request.args)
    if filters.tab not in ("mine", "queue", "all"):
        abort(400, description="tab must be mine, queue or all")
    if filters.tab == "all" and not g.api_user.has_any("supervisor"):
        abort(403)
    try:
        cursor = cursor_from(request.args)
        limit = min(max(int(request.args.get("limit", 50)), 1), 200)
    except ValueError:
        abort(400, description="after must be a cursor of this list and limit a whole number")
    session = db()
    with session.begin():
        page = list_tasks(session, caller(), filters, utcnow(), cursor, limit)
        names = person_names(session, page.tasks, personal_view())
        items = [
            {**task_json(task), "person_name": names.get(task.instance_id)} for task in page.tasks
        ]
    return jsonify({"tasks": items, "next": page.next_cursor})


@bp.post("/tasks/<task_id>/claim")
@role_required(*WORK_ROLES)
def claim(task_id: str) -> Response:
    """Claim a task for the caller."""
    claimed = act_on_task(task_id, lambda rule: runtime().claim(task_id, g.api_user.username, rule))
    return jsonify(plain(claimed))


@bp.post("/tasks/<task_id>/unclaim")
@role_required(*WORK_ROLES)
def unclaim(task_id: str) -> Response:
    """Give a claimed task back to its queue."""
    released = act_on_task(
        task_id, lambda rule: runtime().unclaim(task_id, g.api_user.username, rule)
    )
    return jsonify(plain(released))


@bp.post("/tasks/<task_id>/complete")
@role_required(*WORK_ROLES)
def complete(task_id: str) -> Response:
    """Complete a task with form data; invalid data is refused with the field errors."""

    def complete_it(rule: MayAct) -> InstanceView:
        data = body().get("data", {})
        if not isinstance(data, dict):
            abort(400, description="data must be a JSON object")
        return runtime().complete(task_id, data, g.api_user.username, rule)

    return shown(act_on_task(task_id, complete_it))


@bp.post("/instances")
@role_required(*START_ROLES)
def start() -> tuple[Response, int]:
    """Start an instance of a process and run it until it waits."""
    payload = body()
    process_id = payload.get("process_id")
    data = payload.get("data", {})
    if not isinstance(process_id, str) or not isinstance(data, dict):
        abort(400, description="process_id (a string) and data (an object) are needed")
    instance = runtime().start(process_id, data, g.api_user.username)
    return shown(instance), 201


@bp.get("/instances/<int(max=2147483647):instance_id>")
@role_required(*READ_ROLES)
def instance(instance_id: int) -> Response:
    """Return an instance with its data, ready tasks, events and incidents."""
    return shown(runtime().instance(instance_id))


@bp.post("/messages")
@role_required(*MESSAGE_ROLES)
def message() -> Response:
    """Deliver a message to the waiting instance that its correlation matches."""
    payload = body()
    name = payload.get("name")
    content = payload.get("payload", {})
    correlation = payload.get("correlation", {})
    if not isinstance(name, str) or not isinstance(content, dict):
        abort(400, description="name (a string) and payload (an object) are needed")
    if not isinstance(correlation, dict):
        abort(400, description="correlation must be an object")
    return shown(runtime().message(name, content, correlation))


def expected_version(payload: dict[str, Any]) -> int | None:
    """Return the instance state a repair was decided on (`version`), if the caller gave one."""
    version = payload.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        abort(400, description="version must be a whole number")
    return version


@bp.post("/instances/<int(max=2147483647):instance_id>/variables")
@role_required(*REPAIR_ROLES)
def set_variable(instance_id: int) -> Response:
    """Set a variable of an instance to a JSON value, with a reason; audited before and after."""
    payload = body()
    name, reason = payload.get("name"), payload.get("reason")
    if not isinstance(name, str) or "value" not in payload or not isinstance(reason, str | None):
        abort(400, description="name (a string), value (any JSON) and reason are needed")
    instance = variable_edit.set_variable(
        runtime(), instance_id, name, payload["value"], reason or "", g.api_user.username,
        expected_version(payload),
    )  # fmt: skip
    return shown(instance)


def operations(payload: dict[str, Any]) -> list[repair.Operation]:
    """Return the operations of a modification body, or answer 400."""
    found = payload.get("operations")
    if not isinstance(found, list) or not all(
        isinstance(o, dict) and isinstance(o.get("kind"), str) and isinstance(o.get("target"), str)
        for o in found
    ):
        abort(400, description="operations must be a list of {kind, target} objects")
    return [repair.Operation(o["kind"], o["target"]) for o in found]


@bp.post("/instances/<int(max=2147483647):instance_id>/modification")
@role_required(*REPAIR_ROLES)
def modification(instance_id: int) -> Response:
    """Preview (`"preview": true`) or apply a modification of an instance's tokens."""
    payload = body()
    steps = operations(payload)
    if payload.get("preview") is True:
        return jsonify(plain(repair.preview(runtime(), instance_id, steps)))
    reason = payload.get("reason")
    instance = repair.modify(
        runtime(), instance_id, steps, reason if isinstance(reason, str) else "",
        g.api_user.username, expected_version(payload),
    )  # fmt: skip
    return shown(instance)
