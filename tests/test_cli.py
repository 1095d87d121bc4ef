"""The `tirkeu` command's contract: its outputs, its errors and its exit codes.

Most commands run in-process with click's runner; one application runs end to end through
real subprocesses, as scripts and acceptance tests drive it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIAGRAMS = ROOT / "tests" / "runtime" / "diagrams"
APPLICATION = [str(DIAGRAMS / "application.bpmn"), str(DIAGRAMS / "review.schema.json")]
INSTANCE_KEYS = {"id", "process_id", "version", "status", "data", "ready_tasks", "events",
                 "incidents"}  # fmt: skip
TASK_KEYS = {"id", "instance_id", "bpmn_id", "name", "lane"}
LATER = "2100-01-01T00:00:00+00:00"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The environment that points the command at this test's own instance folder."""
    return {
        "TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIRKEU_DATABASE_URL": f"sqlite:///{tmp_path / 'tirkeu.db'}",
    }


@pytest.fixture
def tirkeu(env):
    """Run the command in-process; return (exit code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, list(args), env=env)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    run("init")
    return run


def as_json(*outcome) -> object:
    code, out, err = outcome
    assert code == 0, err
    return json.loads(out)


def test_init_is_idempotent(env):
    runner = CliRunner()
    first = runner.invoke(main, ["init", "--json"], env=env)
    again = runner.invoke(main, ["init", "--json"], env=env)
    assert first.exit_code == again.exit_code == 0
    deployed = json.loads(first.stdout)["deployed"]
    redeployed = json.loads(again.stdout)["deployed"]
    assert [(d["process_id"], d["version"], d["created"]) for d in deployed] == [
        ("residence_registration", 1, True)
    ]
    assert [(d["process_id"], d["version"], d["created"]) for d in redeployed] == [
        ("residence_registration", 1, False)
    ]
    assert (Path(env["TIRKEU_INSTANCE_PATH"]) / "registries.db").exists()


def test_validate_accepts_a_good_bundle_and_names_file_and_line_of_a_bad_one(tirkeu, tmp_path):
    assert tirkeu("validate", *APPLICATION) == (0, "valid\n", "")
    bad = tmp_path / "bad.bpmn"
    bad.write_text(
        (DIAGRAMS / "application.bpmn")
        .read_text()
        .replace('recorded = decision + " with "', "import os\nrecorded = decision + ' with '")
    )
    code, out, _ = tirkeu("validate", str(bad), str(DIAGRAMS / "review.schema.json"))
    assert code == 1
    (line,) = out.splitlines()
    assert (
        line.startswith(f"{bad}:") and "Task_Record" in line and "imports are not allowed" in line
    )
    assert int(line.split(":")[1]) > 1


def test_deploy_prints_versions_and_deploys_nothing_when_a_file_is_invalid(tirkeu, tmp_path):
    assert as_json(*tirkeu("deploy", *APPLICATION, "--json")) == [
        {"process_id": "application", "version": 1}
    ]
    changed = tmp_path / "application.bpmn"
    changed.write_text((DIAGRAMS / "application.bpmn").read_text().replace("An hour", "Later"))
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions")
    code, _, err = tirkeu("deploy", str(changed), APPLICATION[1], str(broken))
    assert code == 1 and f"{broken}:1:" in err
    assert as_json(*tirkeu("deploy", str(changed), APPLICATION[1], "--json")) == [
        {"process_id": "application", "version": 2}
    ]


def test_invalid_form_data_is_refused_with_the_fields_and_changes_nothing(tirkeu):
    tirkeu("deploy", *APPLICATION)
    started = as_json(*tirkeu("start", "application", "--data", '{"who": "aigerim"}', "--json"))
    (task,) = started["ready_tasks"]
    code, out, err = tirkeu("complete", task["id"], "--data", '{"decision": "maybe"}', "--json")
    assert code != 0 and out == ""
    refusal = json.loads(err)
    assert refusal["error"] == "invalid_data" and set(refusal["errors"]) == {"decision"}
    code, _, err = tirkeu("complete", task["id"], "--data", "{}")
    assert code != 0 and "decision: this field is required" in err
    after = as_json(*tirkeu("show", str(started["id"]), "--json"))
    assert after["events"] == started["events"] and after["ready_tasks"] == started["ready_tasks"]
    assert after["status"] == "waiting" and "decision" not in after["data"]


def test_bad_arguments_and_unknown_things_are_clean_errors(tirkeu):
    code, _, err = tirkeu("start", "nothing_deployed")
    assert code == 1 and err == "Error: no process 'nothing_deployed' is deployed\n"
    code, _, err = tirkeu("start", "application", "--data", "[1, 2]")
    assert code == 2 and "must be a JSON object" in err
    code, _, err = tirkeu(
        "message", "documents_received", "--correlation", '{"application_number": "X"}'
    )
    assert code == 1 and "no waiting instance matches message 'documents_received'" in err
    code, _, err = tirkeu("worker", "--once", "--now", "tomorrow")
    assert code == 2 and "not an ISO 8601" in err
    code, _, err = tirkeu("show", "999", "--json")
    assert code == 1 and json.loads(err)["error"] == "not_found"


def test_registries_load_names_the_record_a_bad_data_set_breaks(tirkeu, tmp_path):
    bad = tmp_path / "registries.json"
    person = {"iin": "850314304175", "surname": "Akhmetov"}
    bad.write_text(json.dumps({"persons": [person], "premises": []}))
    code, _, err = tirkeu("registries", "load", str(bad))
    assert code == 1
    assert "persons[0]" in err and "850314304175" in err and "missing key 'birth_date'" in err
    code, _, err = tirkeu("registries", "load", str(ROOT / "pyproject.toml"))
    assert code == 1 and "not JSON" in err


def test_an_application_runs_end_to_end_through_separate_processes(env):
    """Each command a new process: state, tasks, messages and timers all survive in the database."""

    def tirkeu(*args: str) -> object:
        result = subprocess.run(
            [sys.executable, "-c", "from webapp.cli import main; main()", *args, "--json"],
            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    tirkeu("init")
    assert tirkeu("deploy", *APPLICATION) == [{"process_id": "application", "version": 1}]
    started = tirkeu("start", "application", "--data", '{"application_number": "A-0100"}')
    assert set(started) >= INSTANCE_KEYS and started["status"] == "waiting"
    tasks = tirkeu("tasks")
    assert [set(t) >= TASK_KEYS for t in tasks] == [True]
    (task,) = tasks
    assert (task["instance_id"], task["bpmn_id"], task["name"], task["lane"]) == (
        started["id"], "Task_Review", "Review", "Clerk")  # fmt: skip
    waiting = tirkeu("complete", task["id"], "--data", '{"decision": "accept"}')
    assert waiting["status"] == "waiting" and waiting["ready_tasks"] == []
    assert waiting["data"]["decision"] == "accept"
    received = tirkeu(
        "message", "documents_received", "--payload", '{"pages": 3}',
        "--correlation", '{"application_number": "A-0100"}',
    )  # fmt: skip
    assert received["id"] == started["id"] and received["status"] == "waiting"
    assert received["data"]["documents"] == {"application_number": "A-0100", "pages": 3}
    assert tirkeu("worker", "--once", "--now", LATER) == {"fired": 1}
    shown = tirkeu("show", str(started["id"]))
    assert set(shown) >= INSTANCE_KEYS
    assert (shown["process_id"], shown["version"], shown["status"]) == ("application", 1,
                                                                       "completed")  # fmt: skip
    assert shown["data"]["recorded"] == "accept with 3 pages"
    assert shown["ready_tasks"] == [] and shown["incidents"] == []
    kinds = [e["kind"] for e in shown["events"]]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    assert {"task_completed", "message_received", "timer_fired"} <= set(kinds)
