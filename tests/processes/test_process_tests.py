"""Process test cases in the SpiffArena `test_<name>.json` shape, run by the runtime and the CLI."""

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from tests.processes.driver import PROCESSES, SETTINGS
from webapp import process_tests
from webapp.cli import main

FOLDER = PROCESSES / "residence_registration"
TESTS = "test_residence_registration.json"


def copy_with_cases(tmp_path: Path, cases: dict) -> Path:
    """Copy the registration folder with other test cases."""
    folder = tmp_path / "residence_registration"
    shutil.copytree(FOLDER, folder)
    (folder / TESTS).write_text(json.dumps(cases))
    return folder


def test_shipped_registration_cases_pass():
    results = process_tests.run_folder(FOLDER, SETTINGS)
    assert {r.case: r.passed for r in results} == {
        "sole_owner_registers_without_consent": True,
        "co_owners_consent_then_registered": True,
        "owner_refusal_ends_with_owner_refused": True,
        "child_under_14_is_refused": True,
        "attorney_online_is_sent_to_a_service_centre": True,
        "adult_at_a_centre_is_sent_online_under_the_online_first_rule": True,
    }


def test_a_wrong_expectation_fails_naming_the_key_and_both_values(tmp_path):
    cases = json.loads((FOLDER / TESTS).read_text())
    case = cases["child_under_14_is_refused"]
    case["expected_output_json"]["refusal_reason"] = "owner_refused"
    folder = copy_with_cases(tmp_path, {"wrong": case})
    [result] = process_tests.run_folder(folder, SETTINGS)
    assert not result.passed
    assert result.message == "refusal_reason: expected 'owner_refused', got 'under_14'"


def test_a_task_without_data_in_the_case_fails_naming_the_task(tmp_path):
    cases = json.loads((FOLDER / TESTS).read_text())
    case = cases["owner_refusal_ends_with_owner_refused"]
    del case["tasks"]["residence_registration:Task_GiveConsent"]
    [result] = process_tests.run_folder(copy_with_cases(tmp_path, {"no_consent": case}), SETTINGS)
    assert not result.passed and "Task_GiveConsent" in result.message


def test_cli_test_process_prints_each_case_and_exits_1_on_failure(tmp_path):
    runner = CliRunner()
    env = {"TIRKEU_INSTANCE_PATH": str(tmp_path / "instance")}
    passed = runner.invoke(main, ["test-process", str(FOLDER / TESTS)], env=env)
    assert passed.exit_code == 0, passed.output
    assert passed.output.count("PASS ") == 6
    cases = json.loads((FOLDER / TESTS).read_text())
    cases["child_under_14_is_refused"]["expected_output_json"]["outcome"] = "registered"
    folder = copy_with_cases(tmp_path, cases)
    failed = runner.invoke(main, ["test-process", "--json", str(folder)], env=env)
    assert failed.exit_code == 1
    verdicts = {r["case"]: r["passed"] for r in json.loads(failed.output)["results"]}
    assert verdicts["child_under_14_is_refused"] is False
