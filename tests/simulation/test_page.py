"""The process owner's Simulate page: the form, both versions side by side, bad input refused."""

import pytest

from tests.analytics.conftest import signed_in
from webapp.db.accounts import User, UserRole
from webapp.db.base import Base
from webapp.web import create_app

URL = "/processes/review/2/simulate"
WEEK = {"from": "2026-11-02", "to": "2026-11-09", "runs": "2"}


@pytest.fixture
def app(known, sqlite_url):
    """The web application on the known history, with a process owner and a clerk."""
    Base.metadata.create_all(known.session_factory.kw["bind"])
    with known.session_factory.begin() as session:
        for role in ("process_owner", "clerk"):
            session.add(User(username=role, password_hash="-", role_rows=[UserRole(role=role)]))
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test secret",
            "DATABASE_URL": sqlite_url,
            "RUNTIME": known.runtime,
            "SESSION_FACTORY": known.session_factory,
        }
    )


def test_owner_simulates_a_candidate_beside_the_version_that_ran(app, known):
    owner = signed_in(app, known, "process_owner")
    form = owner.get(URL)
    assert form.status_code == 200 and b'name="from"' in form.data
    result = owner.post(URL, data=WEEK)
    page = result.get_data(as_text=True)
    assert result.status_code == 200
    assert "Version 1 (ran)" in page and "Version 2" in page and "Task_SecondCheck" in page
    # The diagram's badges: the candidate's new task among the queue waits.
    assert "a new task" in page and 'data-bpmn-url="/processes/review/2/files/review.bpmn"' in page


def test_bad_period_is_refused_by_field_and_a_clerk_may_not_simulate(app, known):
    owner = signed_in(app, known, "process_owner")
    bad = owner.post(URL, data={**WEEK, "to": "2026-11-01"})
    assert bad.status_code == 422 and "must be after from" in bad.get_data(as_text=True)
    wrong = owner.post(URL, data={**WEEK, "runs": "500"})
    assert wrong.status_code == 422
    assert signed_in(app, known, "clerk").get(URL).status_code == 403
