"""`tirkeu simulate`: the comparison as one JSON document, and bad input refused by field."""

import json

from click.testing import CliRunner

from webapp.cli import main

PERIOD = ["--from", "2026-11-02T00:00:00+00:00", "--to", "2026-11-09T00:00:00+00:00"]


def invoke(tmp_path, sqlite_url, *args: str):
    """Run `tirkeu simulate` on the known history's database."""
    env = {"TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"), "TIRKEU_DATABASE_URL": sqlite_url}
    return CliRunner().invoke(main, ["simulate", "--process", "review", *args], env=env)


def test_simulate_prints_current_and_candidate_side_by_side(known, tmp_path, sqlite_url):
    result = invoke(tmp_path, sqlite_url, "--version", "2", *PERIOD, "--runs", "2", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["applications"] == 40
    assert document["current"]["version"] == 1 and document["candidate"]["version"] == 2
    assert set(document["candidate"]["share_within_term"]) == {"mean", "ci95"}
    text = invoke(tmp_path, sqlite_url, "--version", "2", *PERIOD, "--runs", "2")
    assert "within term" in text.stdout and "version 2" in text.stdout


def test_simulate_refuses_a_bad_staffing_plan_and_an_unknown_version(known, tmp_path, sqlite_url):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"Clerk": {"default": 2, "hours": {"200": 1}}}))
    bad = invoke(tmp_path, sqlite_url, "--version", "2", *PERIOD, "--staffing", str(plan))
    assert bad.exit_code == 2 and "staffing" in bad.stderr and "0-167" in bad.stderr
    unknown = invoke(tmp_path, sqlite_url, "--version", "9", *PERIOD)
    assert unknown.exit_code == 2 and "version" in unknown.stderr


def test_simulate_follows_a_staffing_plan_given_as_a_file(known, tmp_path, sqlite_url):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"Clerk": 0, "Supervisor": 1}))
    result = invoke(tmp_path, sqlite_url, "--version", "1", *PERIOD, "--runs", "1", "--json",
                    "--staffing", str(plan))  # fmt: skip
    assert result.exit_code == 0, result.output
    # No clerk at all: nothing is ever checked, so no application ends within the term.
    assert json.loads(result.stdout)["current"]["share_within_term"]["mean"] == 0.0
