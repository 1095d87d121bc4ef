"""The analysts' pages over the known history: who may open them and what they show."""

import html
import json
import re

import pytest

from webapp.accounts import issue_token

from .conftest import IIN, signed_in

ALLOWED = ("analyst", "supervisor", "administrator")
REFUSED = ("clerk", "applicant")
RANGE = {"process": "review", "version": 1, "since": "2026-11-02", "until": "2026-11-03"}


def attribute(page: str, name: str) -> dict:
    """Return a JSON data attribute of the page's diagram."""
    return json.loads(html.unescape(re.search(f'{name}="([^"]*)"', page).group(1)))


@pytest.mark.parametrize("role", ALLOWED)
@pytest.mark.parametrize(
    "path",
    [
        "/analytics/",
        "/analytics/instances.csv",
        "/analytics/instances/1",
        "/analytics/dashboard",
        "/analytics/export.csv",
        "/metrics",
    ],
)
def test_analysts_supervisors_and_administrators_open_every_page(app, history, role, path):
    assert signed_in(app, history, role).get(path).status_code == 200


@pytest.mark.parametrize("role", REFUSED)
@pytest.mark.parametrize("path", ["/analytics/", "/analytics/dashboard", "/metrics"])
def test_clerks_and_applicants_are_refused(app, history, role, path):
    assert signed_in(app, history, role).get(path).status_code == 403


def test_anonymous_visitor_is_sent_to_sign_in(app):
    response = app.test_client().get("/analytics/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_list_filters_and_masks_iins_for_analysts_only(app, history):
    page = signed_in(app, history, "analyst").get("/analytics/?outcome=refused").text
    assert re.findall(r">(A-\d{4})</a>", page) == ["A-0007", "A-0004", "A-0003"]
    assert "person-" in page and IIN not in page and "8503******75" not in page
    full = signed_in(app, history, "supervisor").get("/analytics/?outcome=refused").text
    assert IIN in full


def test_list_pages_follow_the_next_link(app, history):
    client = signed_in(app, history, "analyst")
    first = client.get("/analytics/?channel=online").text
    assert re.findall(r">(A-\d{4})</a>", first) == [
        "A-0007",
        "A-0006",
        "A-0005",
        "A-0003",
        "A-0001",
    ]


def test_csv_download_holds_the_filtered_list(app, history):
    response = signed_in(app, history, "analyst").get(
        "/analytics/instances.csv?channel=service_centre"
    )
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.text.splitlines()
    assert [line.split(",")[3] for line in lines[1:]] == ["A-0004", "A-0002"]


def test_instance_page_shows_the_path_the_timeline_and_masked_data(app, history):
    page = signed_in(app, history, "analyst").get(f"/analytics/instances/{history.ids[2]}").text
    markers = attribute(page, "data-markers")
    assert "Task_Refuse" in markers["completed"] and "Flow_ToRefuse" in markers["completed"]
    assert "Task_Approve" not in markers["completed"]
    assert "Completed" in page and "Record refusal" in page
    assert "documents_missing" in page
    # Labelled fields, only the values a step changed, the whole data behind a toggle.
    assert ">Reason for refusal</th>" in page and ">Documents ok</th>" in page
    assert '<details class="raw-data">' in page
    assert IIN not in page and "8503******75" not in page and "person-" in page


def test_instance_diagram_is_the_versions_bpmn(app, history):
    response = signed_in(app, history, "analyst").get(
        f"/analytics/instances/{history.ids[0]}/diagram.bpmn"
    )
    assert response.mimetype == "application/xml"
    assert b'<bpmn:process id="review"' in response.data


def test_dashboard_shows_heatmap_term_share_breaches_and_charts(app, history):
    page = signed_in(app, history, "analyst").get("/analytics/dashboard", query_string=RANGE).text
    heatmap = attribute(page, "data-counts")
    assert heatmap["Task_Approve"] == {
        "count": 3,
        "label": "Approve registration: 3 · mean 10m · p90 15m",
        "heat": 4,
    }
    assert "60.0%" in page
    assert ">A-0002</a>" in page and ">A-0005</a>" in page
    assert page.count("<svg") == 4


def test_event_log_downloads_as_xes(app, history):
    response = signed_in(app, history, "analyst").get("/analytics/export.xes?process=review")
    assert response.mimetype == "application/xml"
    assert response.text.count("<trace>") == 7


def test_metrics_are_prometheus_text(app, history):
    response = signed_in(app, history, "administrator").get("/metrics")
    assert response.mimetype == "text/plain"
    assert 'tirkeu_instances{status="completed"} 6' in response.text
    assert 'tirkeu_step_latency_seconds_count{operation="start"} 7' in response.text


def test_a_scraper_reads_metrics_with_a_bearer_token_and_nothing_else(app, history):
    with history.session_factory.begin() as session:
        analyst, clerk = issue_token(session, "analyst"), issue_token(session, "clerk")
    client = app.test_client()
    scraped = client.get("/metrics", headers={"Authorization": f"Bearer {analyst}"})
    assert scraped.status_code == 200
    assert 'tirkeu_instances{status="completed"} 6' in scraped.text
    assert client.get("/metrics", headers={"Authorization": f"Bearer {clerk}"}).status_code == 403
    for header in ("Bearer wrong", "Basic YWRtaW46YWRtaW4=", "Bearer "):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 401
    assert client.get("/metrics").status_code == 302


def test_a_date_that_is_not_one_is_a_bad_request(app, history):
    client = signed_in(app, history, "analyst")
    assert client.get("/analytics/?since=yesterday").status_code == 400
    assert client.get("/analytics/export.json").status_code == 404
