"""The instance list: every filter, search, keyset pages and masked IINs."""

import csv
import io

import pytest
from sqlalchemy import event

from webapp.analytics.instances import InstanceFilter, instances_csv, list_instances
from webapp.privacy import EVERYTHING, Privacy

from .conftest import IIN, NOW, SINCE, UNTIL


def ids(session, history, **filters) -> list[int]:
    """Return the first page as positions in HISTORY (1-based)."""
    page = list_instances(session, InstanceFilter(**filters), view=EVERYTHING, now=NOW)
    return [history.ids.index(row.id) + 1 for row in page.rows]


def test_list_is_newest_first_and_unfiltered_shows_every_instance(session, history):
    assert ids(session, history) == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"process_id": "review"}, [7, 6, 5, 4, 3, 2, 1]),
        ({"process_id": "other"}, []),
        ({"version": 1}, [7, 6, 5, 4, 3, 2, 1]),
        ({"version": 2}, []),
        ({"status": "waiting"}, [6]),
        ({"outcome": "refused"}, [7, 4, 3]),
        ({"refusal_reason": "no_authority"}, [4]),
        ({"channel": "service_centre"}, [4, 2]),
        ({"created_from": SINCE, "created_until": UNTIL}, [6, 5, 4, 3, 2, 1]),
        ({"overdue": True}, [6]),
        ({"search": "A-0003"}, [3]),
        ({"search": IIN}, [7, 6, 5, 4, 3, 2, 1]),
        ({"search": "990101300123"}, []),
        ({"channel": "online", "outcome": "registered"}, [5, 1]),
    ],
)
def test_filters_narrow_the_list(session, history, filters, expected):
    assert ids(session, history, **filters) == expected


def page(history, after, limit):
    """Return one page read in a session of its own, as a web request would."""
    with history.session_factory() as session:
        return list_instances(session, after=after, limit=limit, now=NOW)


def test_keyset_pages_cover_the_list_once_and_stay_stable_when_instances_start(history):
    first = page(history, None, 3)
    history.runtime.start("review", {"channel": "online"})
    second = page(history, first.next_after, 3)
    third = page(history, second.next_after, 3)
    pages = [[history.ids.index(r.id) + 1 for r in p.rows] for p in (first, second, third)]
    assert pages == [[7, 6, 5], [4, 3, 2], [1]]
    assert third.next_after is None


def test_keyset_page_is_read_by_primary_key_and_skips_no_rows(session, history):
    statements = []

    def listener(_connection, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        list_instances(session, after=history.ids[3], limit=2, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    statement, parameters = statements[-1]
    assert "instance.id <" in statement
    assert "ORDER BY instance.id DESC" in statement
    # SQLite's dialect always writes an OFFSET clause; the list never asks it to skip rows.
    assert "OFFSET" not in statement or parameters[-1] == 0


ADMINISTRATOR = Privacy(b"key").view(["administrator"])


def test_iins_are_masked_unless_the_viewer_may_see_them(session, history):
    masked = list_instances(session, limit=1, view=ADMINISTRATOR, now=NOW).rows[0]
    shown = list_instances(session, limit=1, view=EVERYTHING, now=NOW).rows[0]
    assert (masked.applicant_iin, masked.person_iin) == ("8503******75", "8503******75")
    assert shown.applicant_iin == IIN


def test_csv_download_holds_the_filtered_list_in_pages(history):
    text = "".join(
        instances_csv(
            history.session_factory,
            InstanceFilter(outcome="refused"),
            view=ADMINISTRATOR,
            page_size=2,
        )
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["business_key"] for r in rows] == ["A-0007", "A-0004", "A-0003"]
    assert {r["applicant_iin"] for r in rows} == {"8503******75"}
