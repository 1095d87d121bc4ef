"""One whole application through the `tirkeu` command, as the acceptance tests drive it."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.processes.driver import REGISTRIES
from webapp.cli import main

ADULT = "850314304175"
OWNER = "621102401239"
ARC_ADULTS_HOUSE = "0201000000000002"


@pytest.fixture
def tirkeu(tmp_path: Path, database_url: str):
    """Run `tirkeu ARGS...` on this test's instance folder; return its JSON output.

    `exit_code=` expects a failing command and returns what it printed instead.
    """
    runner = CliRunner()
    env = {"TIRKEU_INSTANCE_PATH": str(tmp_path), "TIRKEU_DATABASE_URL": database_url}

    def run(*args: str, exit_code: int = 0):
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == exit_code, result.output
        return json.loads(result.stdout) if exit_code == 0 else result.output

    return run


def test_attorney_at_a_service_centre_registers_through_the_command(tirkeu, tmp_path: Path):
    dataset = tmp_path / "registries.json"
    dataset.write_text(json.dumps(REGISTRIES))
    assert tirkeu("init", "--json")["deployed"][0]["process_id"] == "residence_registration"
    assert tirkeu("registries", "load", str(dataset), "--json") == {"persons": 11, "premises": 8}
    application = {
        "application_number": "A-0100",
        "channel": "service_centre",
        "registration_type": "permanent",
        "applicant_iin": OWNER,
        "applicant_type": "attorney",
        "person_iin": ADULT,
        "arc": ARC_ADULTS_HOUSE,
        "arrived_from_abroad": False,
        "application_date": "2026-11-27",
    }
    started = tirkeu("start", "residence_registration", "--data", json.dumps(application), "--json")
    assert (started["status"], started["business_key"]) == ("waiting", "A-0100")
    instance_id = str(started["id"])

    [check] = tirkeu("tasks", "--instance", instance_id, "--json")
    assert (check["bpmn_id"], check["lane"]) == ("Task_CheckDocuments", "Clerk")
    # The clerk is still at it when the 15-minute service term ends.
    due = (datetime.now(UTC) + timedelta(minutes=16)).isoformat()
    assert tirkeu("worker", "--once", "--now", due, "--json") == {"fired": 1}
    tasks = {t["bpmn_id"]: t for t in tirkeu("tasks", "--json")}
    assert set(tasks) == {"Task_CheckDocuments", "Task_HandleOverdueCheck"}
    assert tasks["Task_HandleOverdueCheck"]["lane"] == "Supervisor"

    escalation = json.dumps({"escalation_action": "assisted"})
    tirkeu("complete", tasks["Task_HandleOverdueCheck"]["id"], "--data", escalation, "--json")
    # An attorney's authority is one of the checks that apply: accepting without it is refused.
    unchecked = {"identity_document_checked": True, "check_result": "accepted"}
    refused = tirkeu("complete", check["id"], "--data", json.dumps(unchecked), exit_code=2)
    assert "authority_checked" in refused
    assert tirkeu("show", instance_id, "--json")["status"] == "waiting"
    checked = json.dumps({**unchecked, "authority_checked": True})
    done = tirkeu("complete", check["id"], "--data", checked, "--json")
    assert done["status"] == "completed"

    shown = tirkeu("show", instance_id, "--json")
    assert shown["status"] == "completed"
    assert (shown["data"]["outcome"], shown["data"]["refusal_reason"]) == ("registered", None)
    assert shown["data"]["registration_id"]
    assert shown["ready_tasks"] == [] and shown["incidents"] == []
    kinds = [(e["kind"], e["bpmn_id"]) for e in shown["events"]]
    assert ("timer_fired", "Event_ServiceTermExceeded") in kinds
    assert kinds[-1] == ("instance_completed", None)
