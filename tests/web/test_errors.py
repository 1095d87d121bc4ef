"""Error pages for people and JSON errors for programs, from one set of handlers."""

import pytest
from flask import Flask

from tests.web.conftest import sign_in
from webapp.runtime.errors import Conflict, Forbidden, InvalidData, NotFound


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound("no task x"), 404, "not_found"),
        (Forbidden("not yours"), 403, "forbidden"),
        (Conflict("already completed"), 409, "conflict"),
        (InvalidData("invalid form data", {"pages": "must be a number"}), 422, "invalid_data"),
    ],
)
def test_runtime_errors_become_json_under_the_api(app: Flask, error, status, code):
    @app.get("/api/v1/raise-test")
    def raise_test():
        raise error

    response = app.test_client().get("/api/v1/raise-test")
    assert response.status_code == status
    payload = response.get_json()
    assert payload["error"] == code and payload["message"] == error.message
    assert payload["errors"] == getattr(error, "errors", {})


def test_runtime_error_becomes_an_html_page_with_its_status(app: Flask):
    @app.get("/raise-conflict")
    def raise_conflict():
        raise Conflict("already completed by another clerk")

    response = app.test_client().get("/raise-conflict")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "already completed by another clerk" in page and "<h1>Conflict</h1>" in page


def test_unknown_page_is_a_404_page_and_unknown_api_route_is_json(client):
    sign_in(client, "clerk")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "There is nothing at this address." in page.text
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"


def test_a_crash_is_a_500_page_without_details(app: Flask):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/crash")
    def crash():
        raise RuntimeError("secret detail")

    response = app.test_client().get("/crash")
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "Something went wrong" in response.text


def test_a_crash_is_logged_with_the_request_id_the_500_page_and_header_show(app: Flask, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/crash-with-iin/<iin>")
    def crash_with_iin(iin):
        raise RuntimeError("the registry fell over")

    @app.get("/api/v1/crash")
    def crash_api():
        raise RuntimeError("the registry fell over")

    with caplog.at_level("INFO"):
        page = app.test_client().get("/crash-with-iin/850314304175")
        api = app.test_client().get("/api/v1/crash", headers={"X-Request-ID": "gateway-id-42"})
    request_id = page.headers["X-Request-ID"]
    assert page.status_code == 500 and request_id in page.text
    assert api.status_code == 500 and api.get_json()["request_id"] == "gateway-id-42"
    [error] = [r for r in caplog.records if r.levelname == "ERROR" and request_id in r.getMessage()]
    assert "/crash-with-iin/********4175" in error.getMessage()
    assert "the registry fell over" in error.exc_text
    access = [r.getMessage() for r in caplog.records if r.name == "tirkeu.access"]
    assert f"{request_id} GET /crash-with-iin/********4175 500" in access[0]
    assert "850314304175" not in caplog.text


def test_errors_people_can_cause_show_no_request_reference(app: Flask):
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404 and "quote the reference" not in response.text
