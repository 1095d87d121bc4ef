"""Times are shown in Almaty time as each language writes them; exports keep ISO 8601 offsets."""

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from webapp.web.i18n import local_time

from .conftest import sign_in

WEB = Path(__file__).resolve().parents[2] / "webapp" / "web"
# 10:03 UTC is 15:03 in Almaty.
MOMENT = datetime(2026, 12, 4, 10, 3, tzinfo=UTC)
WRITTEN = {
    "en": ("Dec 4, 2026, 3:03 PM", "Dec 4, 2026", "3:03 PM", "Fri, Dec 4"),
    "kk": ("2026 ж. 04 жел., 15:03", "2026 ж. 04 жел.", "15:03", "4 жел., жм"),
    "ru": ("4 дек. 2026 г., 15:03", "4 дек. 2026 г.", "15:03", "пт, 4 дек."),
}
# Ways of writing a time other than the one filter: Flask-Babel's own filters, strftime, cut
# ISO text, and the browser's clock and language.
SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})  # CLDR's no-break spaces, read as spaces
OTHER_WAYS = re.compile(r"datetimeformat|dateformat|timeformat|strftime|\[:1[06]\]|toLocale")


@pytest.mark.parametrize("language", WRITTEN)
def test_a_moment_is_written_in_almaty_time_in_the_readers_language(app, language):
    with app.test_request_context(headers={"Cookie": f"lang={language}"}):
        shown = [local_time(MOMENT, f) for f in ("datetime", "date", "time", "weekday")]
    shown = [text.translate(SPACES) for text in shown]
    assert tuple(shown) == WRITTEN[language]


def test_naive_moments_are_utc_and_text_days_and_gaps_are_read(app):
    with app.test_request_context(headers={"Cookie": "lang=en"}):
        assert local_time(MOMENT.replace(tzinfo=None)) == local_time(MOMENT)
        assert local_time("2026-12-04T15:03:00+05:00") == local_time(MOMENT)
        assert local_time("2026-12-04", "date") == local_time(date(2026, 12, 4), "date")
        assert local_time(MOMENT, "precise").translate(SPACES) == "Dec 4, 2026, 3:03:00 PM"
        assert local_time(None) == local_time("") == "—"
        assert local_time("unknown", "date") == "unknown"


def test_templates_and_scripts_write_times_only_through_the_one_filter():
    pages = [*WEB.joinpath("templates").rglob("*.html"), *WEB.joinpath("static", "js").glob("*.js")]
    assert pages
    found = [f"{p.name}: {m.group(0)}" for p in pages for m in OTHER_WAYS.finditer(p.read_text())]
    assert found == []


def test_the_api_and_the_instance_export_keep_iso_times_with_their_offset(
    client, runtime, start_check, token_for
):
    start_check()
    instance_id = runtime.ready_tasks()[0].instance_id
    token = token_for("analyst")
    answer = client.get(
        f"/api/v1/instances/{instance_id}", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert datetime.fromisoformat(answer["events"][0]["at"]).utcoffset() is not None
    sign_in(client, "analyst")
    rows = list(csv.DictReader(io.StringIO(client.get("/analytics/instances.csv").text)))
    assert datetime.fromisoformat(rows[0]["created_at"]).utcoffset() is not None
