"""The back-test on the demo's seeded history: simulating the month `tirkeu init --demo` plays
through the runtime, with the version that ran, reproduces what happened within 10%."""

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from webapp.bootstrap import build
from webapp.cli import main
from webapp.demo.history import seed_history
from webapp.settings import Settings
from webapp.simulation.staffing import LOCAL

APPLICATIONS = 200


def last_monday() -> datetime:
    """Return the last Monday 00:00 in Almaty: the same month, played again, is the same."""
    local = datetime.now(LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=local.weekday() or 7)).astimezone(UTC)


def test_simulating_the_seeded_month_reproduces_its_share_and_p90_within_ten_percent(
    tmp_path, sqlite_url, monkeypatch
):
    env = {"TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"), "TIRKEU_DATABASE_URL": sqlite_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    made = CliRunner().invoke(main, ["init", "--demo", "--history", "0"], env=env)
    assert made.exit_code == 0, made.output
    end = last_monday()
    product = build(Settings.from_env())
    assert seed_history(product, APPLICATIONS, end=end) is not None
    product.engine.dispose()
    period = ["--from", (end - timedelta(days=31)).isoformat(), "--to", end.isoformat()]
    result = CliRunner().invoke(
        main, ["simulate", "--version", "1", *period, "--runs", "5", "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    test = json.loads(result.stdout)["backtest"]
    observed, simulated = test["observed"], test["simulated"]
    assert observed["share_within_term"] > 0 and observed["lead_p90"] > 0
    for key in ("share_within_term", "lead_p90"):
        assert abs(simulated[key]["mean"] - observed[key]) <= 0.1 * observed[key], test
    assert test["within_10_percent"] == {"share_within_term": True, "lead_p90": True}
    text = CliRunner().invoke(main, ["simulate", "--version", "1", *period, "--runs", "1"], env=env)
    assert "back-test, version 1 that ran" in text.stdout
