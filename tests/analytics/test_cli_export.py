"""`tirkeu export`: the event log to standard output or to a file, as XES or CSV."""

import json

from click.testing import CliRunner

from webapp.bootstrap import build
from webapp.cli import main
from webapp.settings import Settings


def invoke(history, tmp_path, *args: str):
    """Run `tirkeu export` with the arguments on the history's database."""
    product = build(Settings.from_env(database_url=history.url, instance_path=tmp_path / "i"))
    try:
        return CliRunner().invoke(main, ["export", *args], obj=product)
    finally:
        product.engine.dispose()


def test_export_writes_xes_to_standard_output(history, tmp_path):
    result = invoke(history, tmp_path, "--format", "xes", "--process", "review")
    assert result.exit_code == 0, result.output
    assert result.output.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<log ')
    assert result.output.count("<trace>") == 7
    assert result.output.rstrip().endswith("</log>")


def test_export_writes_csv_to_a_file_and_reports_what_it_wrote(history, tmp_path):
    output = tmp_path / "log.csv"
    result = invoke(
        history,
        tmp_path,
        "--format",
        "csv",
        "--output",
        str(output),
        "--since",
        "2026-11-02T00:00:00+00:00",
        "--until",
        "2026-11-04T00:00:00+00:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "output": str(output),
        "format": "csv",
        "cases": 6,
        "events": 22,
    }
    lines = output.read_text().splitlines()
    assert lines[0] == "case_id,activity,timestamp,lifecycle,resource"
    assert len(lines) == 1 + 22


def test_export_refuses_an_unknown_format(history, tmp_path):
    result = invoke(history, tmp_path, "--format", "json")
    assert result.exit_code == 2
    assert "'json' is not one of 'xes', 'csv'" in result.output
