"""The `tirkeu` command's contract: its outputs, its errors and its exit codes.

Most commands run in-process with click's runner; one application runs end to end through
real subprocesses, as scripts and acceptance tests drive it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
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


def test_a_start_naming_no_service_centre_exits_2_naming_the_field_and_creates_nothing(tirkeu):
    tirkeu("deploy", *APPLICATION)
    bad = '{"service_centre_id": "NOWHERE"}'
    code, out, err = tirkeu("start", "application", "--data", bad, "--json")
    assert code == 2 and out == ""
    refusal = json.loads(err)
    assert refusal["error"] == "invalid_data" and set(refusal["errors"]) == {"service_centre_id"}
    code, _, err = tirkeu("start", "application", "--data", bad)
    assert code == 2 and "service_centre_id: 'NOWHERE' is not a service centre" in err
    assert as_json(*tirkeu("tasks", "--json")) == []
    good = '{"service_centre_id": "AST-YESIL"}'
    started = as_json(*tirkeu("start", "application", "--data", good, "--json"))
    # The refused starts took no application number.
    assert (started["id"], started["business_key"]) == (1, "A-000001")
    assert started["data"]["service_centre_id"] == "AST-YESIL"


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


def test_show_finds_an_instance_by_application_number_and_prints_a_readable_summary(tirkeu):
    tirkeu("deploy", *APPLICATION)
    started = as_json(
        *tirkeu("start", "application", "--data", '{"application_number": "B-7"}', "--json")
    )
    by_number = as_json(*tirkeu("show", "B-7", "--json"))
    assert by_number == as_json(*tirkeu("show", str(started["id"]), "--json"))
    assert set(by_number) >= INSTANCE_KEYS | {"business_key"}
    assert by_number["events"][0]["kind"] == "instance_started"
    assert set(by_number["events"][0]) == {"id", "at", "kind", "task_id", "bpmn_id", "name",
                                           "task_type", "actor", "data"}  # fmt: skip
    code, text, _ = tirkeu("show", "B-7")
    assert code == 0
    assert text.startswith(f"B-7 - instance {started['id']} - application v1 - waiting\n")
    assert "open tasks:\n  " in text and "Review" in text and "incidents:\n  none" in text
    assert '  application_number: "B-7"' in text
    assert re.search(r"events \(\d+\):\n  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  instance_started", text)
    code, _, err = tirkeu("show", "A-999999")
    assert code == 1 and "no instance with id or application number 'A-999999'" in err


def test_tasks_json_tells_role_assignee_claim_and_due_time_and_filters_by_number(tirkeu):
    tirkeu("deploy", *APPLICATION)
    tirkeu("start", "application", "--data", '{"application_number": "B-8"}')
    tirkeu("start", "application", "--data", '{"application_number": "B-9"}')
    (task,) = as_json(*tirkeu("tasks", "--instance", "B-9", "--json"))
    assert set(task) == TASK_KEYS | {"role", "assignee", "claimed_by", "state", "due_at",
                                     "created_at"}  # fmt: skip
    assert (task["role"], task["assignee"], task["claimed_by"], task["state"]) == (
        "clerk", None, None, "ready")  # fmt: skip
    assert task["created_at"].endswith("+00:00")


def test_validate_names_a_dangling_sequence_flow_and_its_own_line(tirkeu, tmp_path):
    source = (DIAGRAMS / "application.bpmn").read_text()
    flow = re.search(r'<bpmn:sequenceFlow id="([^"]+)" sourceRef="[^"]+" targetRef="([^"]+)"',
                     source)  # fmt: skip
    broken = source.replace(flow.group(0), flow.group(0).replace(flow.group(2), "Task_Gone"))
    path = tmp_path / "application.bpmn"
    path.write_text(broken)
    line = broken[: broken.index(f'id="{flow.group(1)}"')].count("\n") + 1
    code, out, _ = tirkeu("validate", str(path), APPLICATION[1])
    assert code == 1
    assert out == (f"{path}:{line}: {flow.group(1)}: the sequence flow's target 'Task_Gone' is"
                   " no element of process 'application'\n")  # fmt: skip


def test_registries_load_says_which_database_it_filled(tirkeu, env, tmp_path):
    code, out, _ = tirkeu("registries", "load", str(ROOT / "service_tasks/data/sandbox.json"))
    registry = Path(env["TIRKEU_INSTANCE_PATH"]) / "registries.db"
    assert code == 0 and out == f"loaded 42 persons and 18 premises into sqlite:///{registry}\n"


def test_the_help_lists_commands_loaded_later_with_their_own_help():
    lazy = main.lazy
    assert lazy, "no command is loaded on demand"
    for name, (_module, _attribute, short) in lazy.items():
        command = main.get_command(click.Context(main), name)
        assert command.get_short_help_str(limit=200) == short
    assert re.search(r"\n  users +Manage users", CliRunner().invoke(main, ["--help"]).stdout)


def test_importing_the_cli_computes_no_password_hash_and_loads_no_database_layer():
    probe = (
        "import hashlib, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('a password hash was computed at import')\n"
        "hashlib.scrypt = hashlib.pbkdf2_hmac = refuse\n"
        "import webapp.cli\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(webapp.cli.main, ['--help']).exit_code == 0\n"
        "heavy = {'sqlalchemy', 'SpiffWorkflow', 'flask', 'werkzeug.security'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=ROOT)
