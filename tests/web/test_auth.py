"""Sign-in, its throttle, CSRF, security headers and the language switch in the browser."""

import pytest

from tests.web.conftest import PASSWORD, csrf_token, sign_in
from webapp.web.auth import safe_next


def post_login(client, username, password):
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


def test_clerk_signs_in_and_lands_on_the_task_list(client):
    response = post_login(client, "clerk", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").headers["Location"].endswith("/tasks/")


def test_sign_in_goes_back_only_to_a_path_on_this_site(client):
    token = csrf_token(client)
    data = {"username": "clerk", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=https://evil.example/x", data=data)
    assert response.headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    data["csrf_token"] = csrf_token(client)
    response = client.post("/login?next=/tasks/counter", data=data)
    assert response.headers["Location"] == "/tasks/counter"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/tasks/?tab=queue", "/tasks/?tab=queue"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("tasks", "/"),
        (None, "/"),
    ],
)
def test_only_paths_on_this_site_are_followed(target, expected):
    assert safe_next(target, "/") == expected


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    wrong = post_login(client, "clerk", "not the password")
    unknown = post_login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The user name or password is wrong"
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_five_wrong_passwords_make_this_client_wait_but_lock_no_account(client, app):
    for _ in range(5):
        assert post_login(client, "clerk", "not the password").status_code == 401
    waiting = post_login(client, "clerk", PASSWORD)
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) > 0
    assert post_login(client, "clerk2", PASSWORD).status_code == 302
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert post_login(elsewhere, "clerk", PASSWORD).status_code == 302


def test_sign_out_needs_a_post_with_the_csrf_token(client):
    token = sign_in(client, "clerk")
    assert client.post("/logout").status_code == 400
    assert client.get("/tasks/").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/tasks/").status_code == 302


def test_form_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/tasks/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_every_response_carries_the_security_headers(client):
    response = client.get("/login")
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_is_sent_only_over_https(client):
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_language_switch_sets_a_cookie_and_translates_the_pages(client):
    token = csrf_token(client)
    response = client.post("/language", data={"lang": "kk", "next": "/login", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="kk">' in page
    assert "Жүйеге кіру" in page
    client.post("/language", data={"lang": "ru", "csrf_token": token})
    assert "Вход" in client.get("/login").get_data(as_text=True)


def test_language_follows_the_browser_until_one_is_chosen(client):
    page = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert '<html lang="ru">' in page.get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    token = csrf_token(client)
    response = client.post("/language", data={"lang": "xx", "csrf_token": token})
    assert "lang=" not in response.headers.get("Set-Cookie", "")


def test_header_shows_the_user_and_only_their_roles_navigation(client):
    sign_in(client, "clerk")
    page = client.get("/tasks/").get_data(as_text=True)
    assert "Clerk" in page
    assert "Start at the counter" in page
    assert "Office queue" not in page
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, "supervisor")
    assert "Office queue" in client.get("/tasks/").get_data(as_text=True)


def test_user_without_desk_roles_gets_a_start_page(client):
    sign_in(client, "analyst")
    response = client.get("/")
    assert response.status_code == 200
    assert "Welcome, Analyst" in response.get_data(as_text=True)


def test_an_applicant_starts_at_their_applications(client):
    sign_in(client, "applicant")
    assert client.get("/").headers["Location"].endswith("/portal/")
