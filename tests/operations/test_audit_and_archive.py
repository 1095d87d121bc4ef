"""`tirkeu archive` moves old ended instances to a gzip JSON-lines file."""

import gzip
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.operations.test_admin import age
from webapp.bootstrap import build
from webapp.cli import main
from webapp.db.models import Instance
from webapp.settings import Settings


@pytest.fixture
def database_url(sqlite_url):
    """The command line test runs on SQLite only; the PostgreSQL path is the web test's."""
    return sqlite_url


def test_archive_command_writes_gzip_lines_and_reports_counts(
    ops_runtime, ops_engine, tmp_path, monkeypatch
):
    ids = [ops_runtime.start("tasks", {}).id for _ in range(3)]
    for instance_id in ids:
        ops_runtime.terminate(instance_id, "admin")
        age(ops_runtime, instance_id, 10)
    settings = Settings.from_env(instance_path=tmp_path, database_url=str(ops_engine.url))
    output = tmp_path / "out.jsonl.gz"
    result = CliRunner().invoke(
        main,
        ["archive", "--older-than", "7", "--output", str(output), "--json"],
        obj=build(settings),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["instances"] == 3 and report["events"] >= 6
    with gzip.open(output, "rt") as file:
        assert [json.loads(line)["instance"]["id"] for line in file] == ids
    with ops_runtime.session_factory() as session:
        assert session.scalars(select(Instance.id)).all() == []
