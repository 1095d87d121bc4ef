"""Every route times every role (and anonymous): refused exactly where the table says."""

import re

import pytest

from tests.operations.conftest import PASSWORD
from tests.security.test_consent import app, consents, product, signer  # noqa: F401  (fixtures)
from webapp.accounts import ROLES, create_user, issue_token
from webapp.web import create_app

PUBLIC = "public"
STAFF_READERS = {"clerk", "supervisor", "analyst", "administrator", "process_owner"}
ANALYSTS = {"analyst", "supervisor", "administrator"}
OWNERS = {"process_owner", "administrator"}
# Who may use each endpoint. Written by hand from the product's rules, not from the code:
# a route missing here fails the test, so every new route gets a decision.
ALLOWED: dict[str, set[str] | str] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.password": set(ROLES),
    "home.set_language": PUBLIC,
    "api.openapi": PUBLIC,
    "home.index": set(ROLES),
    "tasks.task_list": {"clerk", "supervisor"},
    "tasks.task_page": {"clerk", "supervisor"},
    "tasks.claim": {"clerk", "supervisor"},
    "tasks.unclaim": {"clerk", "supervisor"},
    "tasks.complete": {"clerk", "supervisor"},
    "tasks.refuse": {"clerk", "supervisor"},
    "tasks.counter": {"clerk", "supervisor"},
    "tasks.reassign": {"supervisor"},
    "tasks.supervisor": {"supervisor"},
    # The citizen's receipt is printed at the desk that registered them.
    "receipts.receipt": {"clerk", "supervisor"},
    "api.tasks": {"clerk", "supervisor", "applicant"},
    "api.claim": {"clerk", "supervisor", "applicant"},
    "api.unclaim": {"clerk", "supervisor", "applicant"},
    "api.complete": {"clerk", "supervisor", "applicant"},
    # Process owners try processes in the sandbox only: they never start or move real instances.
    "api.start": {"clerk", "supervisor", "administrator"},
    "api.instance": STAFF_READERS,
    "api.message": {"administrator"},
    "api.set_variable": {"administrator"},
    "api.modification": {"administrator"},
    "admin.index": {"administrator"},
    "admin.incident_action": {"administrator"},
    "admin.instances": {"administrator"},
    "admin.instance_action": {"administrator"},
    "admin.instance": {"administrator"},
    "admin.set_variable": {"administrator"},
    "admin.modification": {"administrator"},
    "admin.batch": {"administrator"},
    "admin.batch_chunk": {"administrator"},
    "admin.users": {"administrator"},
    "admin.add_user": {"administrator"},
    "admin.change_roles": {"administrator"},
    "admin.change_centre": {"administrator"},
    "admin.new_token": {"administrator"},
    "admin.revoke_user_token": {"administrator"},
    "admin.set_user_active": {"administrator"},
    "admin.reset_password": {"administrator"},
    "admin.retention": {"administrator"},
    "admin.run_retention": {"administrator"},
    "analytics.index": ANALYSTS,
    "analytics.instance": ANALYSTS,
    "analytics.diagram": ANALYSTS,
    "analytics.version_diagram": ANALYSTS,
    "analytics.instances_download": ANALYSTS,
    "analytics.dashboard": ANALYSTS,
    "analytics.export": ANALYSTS,
    "metrics.metrics": ANALYSTS,
    "processes.index": OWNERS,
    "processes.viewer": OWNERS,
    "processes.file": OWNERS,
    "processes.editor": OWNERS,
    "processes.save": OWNERS,
    "processes.form_preview": OWNERS,
    "processes.diff": OWNERS,
    "processes.run_tests": OWNERS,
    "simulation.simulate": OWNERS,
    "simulation.job": OWNERS,
    "simulation.progress": OWNERS,
    "simulation.delete": OWNERS,
    "processes.deployments": OWNERS,
    "processes.review": OWNERS,
    "processes.decide": OWNERS,
    "process_texts.page": OWNERS,
    "process_texts.propose": OWNERS,
    "processes.migration": {"administrator"},
    "processes.migrate": {"administrator"},
    "portal.index": {"applicant"},
    "portal.apply": {"applicant"},
    "portal.sign": {"applicant"},
    "portal.document_file": {"applicant"},
    "portal.send_code": {"applicant"},
    "portal.verify": {"applicant"},
    "portal.sign_eds": {"applicant"},
    "portal.application": {"applicant"},
    "portal.outbox_page": {"applicant"},
    "portal.consents": {"applicant"},
    "portal.consent": {"applicant"},
    "visits.index": {"applicant"},
    "visits.reserve": {"applicant"},
    "visits.cancel_booking": {"applicant"},
    "visits.desk": {"clerk", "supervisor"},
}
# Values for the rules' variables: nothing exists under them, so an allowed call changes nothing.
ARGUMENTS = {
    "task_id": "00000000-0000-0000-0000-000000000000",
    "instance_id": "999999",
    "incident_id": "999999",
    "username": "nobody",
    "action": "resume",
    "filename": "css/tirkeu.css",
    "process_id": "residence_registration",
    "number": "1",
    "version": "1",
    "name": "nothing.bpmn",
    "log_format": "csv",
    "booking_id": "999999",
    "deployment_id": "999999",
    "decision": "approve",
    "token_id": "999999",
    "job_id": "999999",
}
CALLERS = [None, *ROLES]


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def matrix_app(ops_runtime, tmp_path):
    with ops_runtime.session_factory.begin() as session:
        for role in ROLES:
            create_user(session, f"{role}-user", PASSWORD, [role], iin=_iin(role))
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": ops_runtime,
            "SESSION_FACTORY": ops_runtime.session_factory,
            "ARCHIVE_FOLDER": tmp_path / "archives",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def _iin(role: str) -> str | None:
    return "850314304175" if role == "applicant" else None


def calls(flask_app) -> list[tuple[str, str, str]]:
    """Return (endpoint, method, path) for every method of every rule."""
    found = []
    for rule in flask_app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: ARGUMENTS[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, path))
    # Signing out ends the clients' sessions, so it comes last.
    return sorted(found, key=lambda call: (call[0] == "auth.logout", call))


def test_the_table_names_every_route_and_only_routes(matrix_app):
    endpoints = {rule.endpoint for rule in matrix_app.url_map.iter_rules()}
    assert endpoints - ALLOWED.keys() == set(), "routes without an authorization decision"
    assert ALLOWED.keys() - endpoints == set(), "decisions for routes that do not exist"


def refused(path: str, answer) -> bool:
    """Tell whether an answer refuses the caller (sign-in demanded, or forbidden)."""
    if answer.status_code in (401, 403):
        return True
    location = answer.headers.get("Location", "")
    return answer.status_code == 302 and "/login" in location


def test_every_route_refuses_exactly_the_callers_the_table_refuses(matrix_app, ops_runtime):
    with ops_runtime.session_factory.begin() as session:
        tokens = {role: issue_token(session, f"{role}-user") for role in ROLES}
    clients = {None: matrix_app.test_client()}
    for role in ROLES:
        client = matrix_app.test_client()
        answer = client.post("/login", data={"username": f"{role}-user", "password": PASSWORD})
        assert answer.status_code == 302
        clients[role] = client
    wrong = []
    for endpoint, method, path in calls(matrix_app):
        allowed = ALLOWED[endpoint]
        for caller in CALLERS:
            headers = {}
            if path.startswith("/api/") and caller is not None:
                headers["Authorization"] = f"Bearer {tokens[caller]}"
            client = clients[None] if path.startswith("/api/") else clients[caller]
            answer = client.open(path, method=method, headers=headers, json={})
            answer.close()
            if allowed == PUBLIC:
                # The sign-in form answers 401 to a wrong password: not a refusal of the route.
                if answer.status_code >= 500:
                    wrong.append(f"{method} {path} as {caller or 'anonymous'}: 5xx")
                continue
            may = caller is not None and caller in allowed
            if answer.status_code >= 500 or refused(path, answer) == may:
                wrong.append(f"{method} {path} as {caller or 'anonymous'}: {answer.status_code}")
    assert wrong == [], "\n".join(wrong)


# Who may act on an owner's consent task, by hand as well: the owner it is assigned to alone,
# through the API (her answer still needs its signature: 422 without one). The desk refuses
# everyone, supervisors too, who may open the task but not act on it.
CONSENT_ACTORS = {
    "/tasks/{task}/complete": set(),
    "/tasks/{task}/refuse": set(),
    "/tasks/{task}/reassign": set(),
    "/tasks/{task}/unclaim": set(),
    "/tasks/{task}/claim": set(),
    "/api/v1/tasks/{task}/complete": {"owner"},
    "/api/v1/tasks/{task}/unclaim": {"owner"},
    "/api/v1/tasks/{task}/claim": {"owner"},
}
CONSENT_CALLERS = {"owner": "gulnara", "other owner": "kairat", "clerk": "clerk",
                   "supervisor": "supervisor"}  # fmt: skip


def test_an_owners_consent_task_is_acted_on_by_its_owner_alone(app, product, consents):  # noqa: F811
    task_id = consents["621102401239"]
    with product.session_factory.begin() as session:
        tokens = {who: issue_token(session, name) for who, name in CONSENT_CALLERS.items()}
    wrong = []
    for path, allowed in CONSENT_ACTORS.items():
        for who, username in CONSENT_CALLERS.items():
            client = app.test_client()
            headers = {}
            if path.startswith("/api/"):
                headers["Authorization"] = f"Bearer {tokens[who]}"
            else:
                client.post(
                    "/login", data={"username": username, "password": "correct horse battery"}
                )
            answer = client.post(path.format(task=task_id), json={}, headers=headers, data=None)
            if answer.status_code >= 500 or refused(path, answer) == (who in allowed):
                wrong.append(f"POST {path} as {who}: {answer.status_code}")
    assert wrong == [], "\n".join(wrong)
