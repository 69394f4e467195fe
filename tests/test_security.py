"""The security baseline: cookies, CSRF, password hashing, headers, and secrets kept out of
logs."""

import logging
import re
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, STRONG_PASSWORD, csrf_token_in, last_code, last_link

from portal.extensions import db
from portal.logs import render
from portal.models import User, UserSession
from portal.passwords import hash_password, verify_password

# Every state-changing route of the pages, with how to build its path.
STATE_CHANGES = [
    ("POST", "/signup"),
    ("POST", "/verify"),
    ("POST", "/verify/resend"),
    ("POST", "/signin"),
    ("POST", "/signout"),
    ("POST", "/signout/everywhere"),
    ("POST", "/forgot-password"),
    ("POST", "/reset/{token}"),
    ("POST", "/not-me/{token}"),
    ("POST", "/profile/username"),
    ("POST", "/profile/email"),
    ("POST", "/profile/email/confirm"),
    ("POST", "/profile/email/cancel"),
    ("POST", "/profile/password"),
    ("POST", "/profile/delete"),
    ("POST", "/sessions/{sid}/end"),
    ("DELETE", "/sessions/{sid}/end"),
    ("POST", "/sessions/end-others"),
    ("POST", "/signin/code"),
    ("POST", "/signin/passkey/options"),
    ("POST", "/signin/passkey"),
    ("POST", "/profile/confirm"),
    ("POST", "/profile/confirm/passkey/options"),
    ("POST", "/profile/confirm/passkey"),
    ("POST", "/profile/totp"),
    ("POST", "/profile/totp/setup"),
    ("POST", "/profile/totp/disable"),
    ("POST", "/profile/recovery-codes"),
    ("POST", "/profile/passkeys/options"),
    ("POST", "/profile/passkeys"),
    ("POST", "/profile/passkeys/{passkey_id}/rename"),
    ("POST", "/profile/passkeys/{passkey_id}/remove"),
]


def set_cookie_headers(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_session_cookie_is_httponly_and_samesite_lax(browser, user):
    response = browser.sign_in()

    [cookie] = [c for c in set_cookie_headers(response) if c.startswith("portal=")]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development serves plain http://127.0.0.1


def test_production_cookie_is_secure_with_a_host_prefix(make_app):
    client = make_app(PORTAL_ENV="production", TESTING=False).test_client()

    response = client.get("/signin", base_url="https://portal.test")

    [cookie] = set_cookie_headers(response)
    assert cookie.startswith("__Host-portal=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain=" not in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_state_change_list_covers_every_route(app):
    """New routes must join STATE_CHANGES (and so the CSRF test below)."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("auth", "profile", "sessions"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + m.group(1) + "}", rule.rule)
        path = path.replace("{session_id}", "{sid}")
        routes |= {(m, path) for m in rule.methods & {"POST", "DELETE", "PUT", "PATCH"}}

    assert routes == set(STATE_CHANGES)


@pytest.mark.parametrize(("method", "path"), STATE_CHANGES)
def test_state_changes_without_a_csrf_token_are_refused(
    auth, new_browser, user, outbox, method, path
):
    phone = new_browser()
    phone.sign_in()
    sid = db.session.scalar(
        select(UserSession.id).where(UserSession.device_label == "Mobile Safari on iOS")
    )
    auth.post("/forgot-password", {"email": "alice@example.com"}, form_page="/forgot-password")
    token = urlsplit(last_link(outbox)).path.rsplit("/", 1)[1]
    outbox.clear()
    data = {
        "email": "alice@example.com",
        "username": "bob",
        "password": STRONG_PASSWORD,
        "login": "alice",
        "code": "123456",
        "current_password": PASSWORD,
        "new_password": STRONG_PASSWORD,
    }

    response = auth.client.open(
        path.format(token=token, sid=sid, passkey_id=uuid.uuid4()),
        method=method,
        data=data,
        headers={"HX-Request": "true"} if method == "DELETE" else {},
    )

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert auth.get("/profile").status_code == 200
    assert phone.get("/profile").status_code == 200
    assert user.username == "alice" and user.email == "alice@example.com"
    assert verify_password(user.password_hash, PASSWORD)
    assert outbox == []


def test_a_csrf_token_of_another_browser_is_refused(auth, new_browser, user):
    stranger = new_browser()
    token = csrf_token_in(stranger.client.get("/signin").get_data(as_text=True))

    response = auth.client.post("/signout", data={"csrf_token": token})

    assert response.status_code == 400
    assert auth.get("/profile").status_code == 200


def test_signing_in_gives_a_new_csrf_token_in_the_new_cookie(browser, user):
    """The token from before sign-in is dropped with the rest of the old cookie (a token an
    attacker planted before sign-in is worth nothing after it); the new one is in the cookie
    the sign-in sets, so the first page after it does not write the cookie again."""
    before = browser.csrf_token("/signin")
    response = browser.sign_in()
    assert any(c.startswith("portal=") for c in response.headers.getlist("Set-Cookie"))

    page = browser.get("/sessions")
    assert page.status_code == 200
    assert not any(c.startswith("portal=") for c in page.headers.getlist("Set-Cookie")), (
        page.headers.getlist("Set-Cookie")
    )
    after = csrf_token_in(page.get_data(as_text=True))
    assert browser.client.post("/signout", data={"csrf_token": before}).status_code == 400
    assert browser.get("/profile").status_code == 200  # still signed in
    assert browser.client.post("/signout", data={"csrf_token": after}).status_code == 303


def test_default_argon2_parameters_are_owasps(make_app):
    default = make_app(drop=("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM"))

    with default.app_context():
        hashed = hash_password("a password to hash")

    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_weaker_stored_hash_is_rehashed_at_sign_in(browser, app, make_user):
    user = make_user(email="old@example.com", username="old")  # hashed at t=1, m=8
    old_hash = user.password_hash
    assert "$m=8,t=1,p=1$" in old_hash
    app.config.update(ARGON2_TIME_COST=2, ARGON2_MEMORY_COST=16)

    browser.sign_in("old")

    new_hash = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert new_hash != old_hash
    assert "$m=16,t=2,p=1$" in new_hash
    assert verify_password(new_hash, PASSWORD)


def test_a_current_hash_is_left_alone(browser, user):
    old_hash = user.password_hash

    browser.sign_in()

    assert user.password_hash == old_hash


def test_security_headers_are_sent(browser):
    response = browser.get("/signin")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_no_password_code_or_token_reaches_the_logs(browser, outbox, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    browser.sign_up(password=STRONG_PASSWORD)
    code = last_code(outbox)
    browser.verify(code)
    browser.sign_out()
    browser.post("/forgot-password", {"email": "bob@example.com"}, form_page="/signin")
    link = last_link(outbox)
    token = link.rsplit("/", 1)[1]
    new_password = "quince-lantern-meadow-93"
    browser.post(urlsplit(link).path, {"password": new_password}, form_page=urlsplit(link).path)
    browser.post("/signin", {"login": "bob", "password": "a wrong password typed"})

    logged = "\n".join(render(r) for r in caplog.records)
    logged += capsys.readouterr().out
    assert "email_sent" in logged and "request" in logged  # the logs were captured
    for secret in (STRONG_PASSWORD, code, token, new_password, "a wrong password typed"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("path", "data", "form_page"),
    [
        ("/signin", {"login": "alice\x00", "password": "x"}, "/signin"),
        ("/signin", {"login": "alice", "password": "x\x00y"}, "/signin"),
        (
            "/signup",
            {"email": "a\x00@example.com", "username": "bo\x00b", "password": "a\x00b" * 5},
            "/signup",
        ),
        ("/verify", {"email": "alice@example.com\x00", "code": "12\x003456"}, "/signin"),
        ("/verify/resend", {"email": "bob\x00@example.com"}, "/signin"),
        ("/forgot-password", {"email": "alice\x00@example.com"}, "/forgot-password"),
    ],
)
def test_nul_characters_in_entrance_forms_never_give_a_500(browser, user, path, data, form_page):
    """PostgreSQL refuses NUL in text: such input is refused before any view (section 7)."""
    response = browser.post(path, data, form_page=form_page)

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/profile/username", {"username": "a\x00bc"}),
        ("/profile/email", {"email": "x\x00@example.com"}),
        ("/profile/email/confirm", {"code": "\x00"}),
        ("/profile/password", {"current_password": "\x00", "new_password": "p\x00" * 8}),
        ("/profile/delete", {"password": "\x00"}),
    ],
)
def test_nul_characters_in_profile_forms_never_give_a_500(auth, path, data):
    assert auth.post(path, data, form_page="/profile").status_code == 400


def test_a_user_agent_with_control_characters_can_sign_in(new_browser, user):
    browser = new_browser("Mozilla/5.0\x00 (X11; Linux x86_64)\x01 Firefox/128.0")

    browser.sign_in()

    assert browser.get("/sessions").status_code == 200
    agent = db.session.scalar(select(UserSession.user_agent))
    assert "\x00" not in agent and "\x01" not in agent
