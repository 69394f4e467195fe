"""Checks every request passes (portal/guards.py, README "Rules worth knowing"): text the database
cannot store is bad input (400 / 422), never a 500; cross-site form posts are refused even
with a valid CSRF token."""

import pytest
from web_helpers import PASSWORD

NUL_MESSAGE = "a NUL character or broken Unicode"


@pytest.fixture
def admin(browser, make_user):
    make_user(email="root@example.com", username="root", admin=True)
    browser.sign_in("root@example.com", PASSWORD)
    return browser


# -- NUL characters and broken Unicode --------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/?q=al%00ice",
        "/admin/?after=%00",
        "/admin/?before=abc%00",
        "/admin/events?kind=sign_in%00",
        "/admin/events?user=%00",
        "/admin/events?before=1%00",
        "/activity?after=%00",
        "/sessions?anything=%00",
        "/profile?%00=name",
    ],
)
def test_nul_in_a_query_argument_is_a_bad_request(admin, path):
    response = admin.get(path)

    assert response.status_code == 400
    assert NUL_MESSAGE in response.get_data(as_text=True)


def test_nul_in_an_htmx_search_is_a_bad_request(admin):
    response = admin.get("/admin/?q=%00", headers={"HX-Request": "true"})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/signin?next=/profile%00", "/verify?email=a%00@example.com"],
)
def test_nul_in_anonymous_pages_is_a_bad_request(browser, path):
    assert browser.get(path).status_code == 400


def test_invalid_utf8_in_a_query_argument_is_no_error(admin):
    """Werkzeug never decodes bad UTF-8 into lone surrogates (it keeps the %-escapes), so an
    encoded surrogate is just odd search text."""
    assert admin.get("/admin/?q=%ED%A0%80").status_code == 200


@pytest.mark.parametrize(
    ("path", "form_page", "data"),
    [
        ("/signin", "/signin", {"login": "alice\x00", "password": "x"}),
        ("/signin", "/signin", {"login": "alice", "password": "pass\x00word"}),
        (
            "/signup",
            "/signup",
            {"email": "bob\x00@example.com", "username": "bob", "password": "x" * 12},
        ),
        ("/forgot-password", "/forgot-password", {"email": "alice@example.com\x00"}),
        ("/verify", "/signin", {"email": "alice@example.com", "code": "12\x003456"}),
        ("/signin", "/signin", {"login": "alice", "password": "x", "extra\x00": "1"}),
    ],
)
def test_nul_in_an_anonymous_form_is_a_bad_request(browser, user, path, form_page, data):
    response = browser.post(path, data, form_page=form_page)

    assert response.status_code == 400
    assert NUL_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/profile/username", {"username": "al\x00ice"}),
        ("/profile/email", {"email": "new\x00@example.com", "password": PASSWORD}),
        ("/profile/email/confirm", {"code": "\x00"}),
        ("/profile/password", {"current_password": "\x00", "new_password": "x" * 12}),
        ("/profile/delete", {"password": "\x00"}),
    ],
)
def test_nul_in_a_signed_in_form_is_a_bad_request(auth, user, path, data):
    response = auth.post(path, data, form_page="/profile")

    assert response.status_code == 400
    assert auth.get("/profile").status_code == 200  # still signed in, nothing changed
    assert user.username == "alice"


@pytest.mark.parametrize("end", ["sessions/end-all", "sessions/{session}/end"])
def test_nul_in_an_admin_reason_is_a_bad_request(admin, new_browser, user, end):
    new_browser().sign_in()
    path = f"/admin/users/{user.id}/" + end.format(session=user.sessions[0].id)

    response = admin.post(path, {"reason": "because\x00"}, form_page="/admin/")

    assert response.status_code == 400
    assert NUL_MESSAGE in response.get_data(as_text=True)


# -- Cross-site requests ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://portal.test"},
        {"Origin": "https://evil.example"},
        {"Origin": "http://portal.test.evil.example"},
        {"Origin": "https://portal.test"},  # another scheme is another origin
        {"Origin": "http://portal.test:8080"},
        {"Origin": "null"},  # sandboxed frames, data: URLs
    ],
)
def test_a_cross_site_post_is_refused_even_with_a_valid_csrf_token(auth, headers, caplog):
    response = auth.post("/signout", form_page="/profile", headers=headers)

    assert response.status_code == 403
    assert "another site" in response.get_data(as_text=True)
    assert auth.get("/profile").status_code == 200  # still signed in
    assert "cross_site_request_refused" in caplog.messages


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, old browsers: the CSRF token alone decides
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://portal.test"},
        {"Origin": "http://portal.test"},  # PORTAL_BASE_URL
        {"Origin": "http://PORTAL.test:80"},
        {"Origin": "http://localhost"},  # the host the request was sent to
    ],
)
def test_a_same_site_post_passes(auth, headers):
    response = auth.post("/signout", form_page="/profile", headers=headers)

    assert response.status_code == 303
    assert auth.get("/profile").status_code == 302  # signed out


def test_a_cross_site_sign_in_is_refused(browser, user):
    """Login CSRF: another site must not sign a visitor in to an account of its choosing."""
    response = browser.post(
        "/signin",
        {"login": "alice", "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert browser.get("/profile").status_code == 302


def test_a_cross_site_htmx_delete_is_refused(auth, user, new_browser):
    other = new_browser()
    other.sign_in()
    html = auth.get("/sessions").get_data(as_text=True)
    token = html.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    others = [s for s in user.sessions if s.is_active]
    assert len(others) == 2

    response = auth.client.delete(
        f"/sessions/{others[0].id}/end",
        headers={"X-CSRFToken": token, "HX-Request": "true", "Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert all(s.is_active for s in others)


def test_a_cross_site_link_still_opens_pages(auth):
    assert auth.get("/profile", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
