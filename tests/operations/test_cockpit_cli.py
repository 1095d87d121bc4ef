"""The `tirkeu instances` commands: the cockpit's repairs from the command line."""

import json

import pytest
from click.testing import CliRunner

from webapp.bootstrap import Product
from webapp.cli import main
from webapp.settings import Settings

from .test_cockpit import application, cockpit_runtime  # noqa: F401  (fixture)


@pytest.fixture
def run(cockpit_runtime, ops_engine, database_url, tmp_path):  # noqa: F811
    settings = Settings.from_env(database_url=database_url, instance_path=tmp_path)
    product = Product(settings, ops_engine, cockpit_runtime.session_factory, cockpit_runtime)

    def invoke(*args: str):
        return CliRunner().invoke(main, ["instances", *args], obj=product)

    return invoke


def test_the_command_line_sets_a_variable_moves_a_token_and_refuses_without_a_reason(
    run,
    cockpit_runtime,  # noqa: F811
):
    instance_id = application(cockpit_runtime, "wrong")
    key = cockpit_runtime.instance(instance_id).business_key
    refused = run("set-variable", key, "count", '"three"', "--reason", "fix", "--by", "root")
    assert refused.exit_code == 2 and "value:" in refused.output
    done = run("set-variable", key, "who", '"anna"', "--reason", "typo", "--by", "root", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["data"]["who"] == "anna"
    listed = json.loads(run("tokens", str(instance_id), "--json").output)
    failed = listed["tokens"][0]["task_id"]
    move = ["modify", key, "--cancel", failed, "--start-after", "Task_Lookup"]
    preview = json.loads(run(*move, "--preview", "--json").output)
    assert [t["bpmn_id"] for t in preview["after"]] == ["Task_Review"]
    assert run(*move, "--by", "root").exit_code == 2  # no reason
    applied = run(*move, "--reason", "looked up by phone", "--by", "root", "--json")
    assert applied.exit_code == 0, applied.output
    assert [t["bpmn_id"] for t in json.loads(applied.output)["ready_tasks"]] == ["Task_Review"]


def test_the_command_line_batch_previews_then_retries_and_reports_each_instance(
    run,
    cockpit_runtime,  # noqa: F811
):
    stuck = [application(cockpit_runtime, "wrong") for _ in range(2)]
    counted = run("batch", "retry", "--incident", "--preview", "--json")
    assert json.loads(counted.output) == {"kind": "retry", "count": 2}
    result = run("batch", "retry", "--process", "repair", "--by", "root", "--json")
    assert result.exit_code == 0, result.output
    results = json.loads(result.output.splitlines()[-1])["results"]
    assert [(r["instance_id"], r["outcome"]) for r in results] == [
        (i, "failed_again") for i in stuck
    ]
