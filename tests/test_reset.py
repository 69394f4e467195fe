"""Forgotten password: a single-use, hashed, 30-minute link; every session ends after."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, text
from web_helpers import (
    PASSWORD,
    STRONG_PASSWORD,
    csrf_token_in,
    deliver_held_mail,
    last_link,
    without_csrf,
)

from portal import clock
from portal.extensions import db
from portal.models import OneTimeCode, UserSession


def request_reset(browser, email="alice@example.com", **kw):
    return browser.post("/forgot-password", {"email": email}, form_page="/forgot-password", **kw)


def reset_path(outbox) -> str:
    return urlsplit(last_link(outbox)).path


def set_password(browser, path, password=STRONG_PASSWORD, *, form_page=None, **kw):
    return browser.post(path, {"password": password}, form_page=form_page or path, **kw)


@pytest.fixture
def link(browser, user, outbox):
    """The path of a fresh reset link for alice."""
    request_reset(browser)
    return reset_path(outbox)


def test_request_answers_the_same_for_known_and_unknown_addresses(new_browser, user, outbox):
    known = request_reset(new_browser(), "alice@example.com")
    unknown = request_reset(new_browser(), "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert without_csrf(known.get_data(as_text=True)).replace("alice@", "nobody@") == (
        without_csrf(unknown.get_data(as_text=True))
    )
    assert [(m["kind"], m["to"]) for m in outbox] == [("reset_password", ["alice@example.com"])]


@pytest.mark.parametrize("email", ["", "not an email", "x" * 10_000])
def test_request_with_a_bad_address_is_told_next_to_the_field(browser, outbox, email):
    response = request_reset(browser, email)

    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert outbox == []


def test_link_is_on_the_base_url_never_the_host_header(client, user, outbox):
    evil = "http://evil.com"
    form = client.get("/forgot-password", base_url=evil).get_data(as_text=True)
    token = csrf_token_in(form)
    response = client.post(
        "/forgot-password",
        data={"email": "alice@example.com", "csrf_token": token},
        base_url=evil,
        headers={"X-Forwarded-Host": "evil.com"},
    )
    assert response.status_code == 200

    link = last_link(outbox)
    assert link.startswith("http://portal.test/reset/")
    message = [m for m in outbox if m["kind"] == "reset_password"][-1]
    assert "evil.com" not in message["text"] + message["html"]


def test_token_carries_256_bits_and_is_stored_only_hashed(link):
    token = link.rsplit("/", 1)[1]

    assert len(token) >= 43
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    rows = db.session.execute(text("SELECT * FROM one_time_codes")).all()
    assert len(rows) == 1
    assert token not in repr(rows)


def test_new_password_is_set_and_works(browser, link, user, outbox):
    page = browser.get(link)
    assert page.status_code == 200
    assert "alice@example.com" in page.get_data(as_text=True)

    response = set_password(browser, link)

    assert response.status_code == 303
    assert response.headers["Location"] == "/signin"
    assert browser.get("/profile").status_code == 302  # not signed in
    assert browser.post("/signin", {"login": "alice", "password": PASSWORD}).status_code == 422
    browser.sign_in(password=STRONG_PASSWORD)


def test_success_ends_every_session_and_emails_the_owner(browser, new_browser, link, user, outbox):
    laptop, phone = new_browser(), new_browser()
    laptop.sign_in()
    phone.sign_in()

    set_password(browser, link)

    assert laptop.get("/profile").status_code == 302
    assert phone.get("/profile").status_code == 302
    active = select(func.count()).select_from(UserSession).where(UserSession.active_clause())
    assert db.session.scalar(active) == 0
    # The phone's new-sign-in notice went out minutes ago: this one joins a digest.
    deliver_held_mail()
    assert outbox[-1]["kinds"] == ["password_changed"]
    assert outbox[-1]["to"] == ["alice@example.com"]


def test_a_signed_in_browser_resetting_is_signed_out(auth, user, outbox):
    request_reset(auth)
    path = reset_path(outbox)

    response = set_password(auth, path)

    assert response.status_code == 303
    assert auth.get("/profile").status_code == 302


def test_link_is_single_use(browser, link):
    assert set_password(browser, link).status_code == 303

    again = browser.get(link)
    assert again.status_code == 400
    assert "invalid, was already used or has expired" in again.get_data(as_text=True)
    again = set_password(browser, link, "another-fine-passphrase-77", form_page="/signin")
    assert again.status_code == 400


def test_link_expires_after_30_minutes(browser, link):
    clock.advance(timedelta(minutes=30, seconds=1))

    assert browser.get(link).status_code == 400
    assert set_password(browser, link, form_page="/signin").status_code == 400


def test_link_works_just_before_30_minutes(browser, link):
    clock.advance(timedelta(minutes=29, seconds=50))

    assert set_password(browser, link).status_code == 303


def test_a_newer_link_supersedes_the_older_one(browser, user, outbox):
    request_reset(browser)
    first = reset_path(outbox)
    request_reset(browser)
    second = reset_path(outbox)

    assert browser.get(first).status_code == 400
    assert browser.get(second).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "not-a-real-token-but-long-enough-to-look-like-one-0123456789",
        "A" * 43,
        "a" * 10_000,
        "%00%ff%fe",
        "ünïcødé-token-that-is-long-enough-to-check",
    ],
)
def test_unknown_and_garbage_tokens_get_a_clear_page(browser, user, token):
    page = browser.get(f"/reset/{token}")
    posted = browser.post(f"/reset/{token}", {"password": STRONG_PASSWORD}, form_page="/signin")

    for response in (page, posted):
        assert response.status_code == 400
        assert "Ask for a new one" in response.get_data(as_text=True)


def test_a_token_with_slashes_is_no_reset_page(browser, user):
    token = "..%2F..%2Fetc%2Fpasswd"

    assert browser.get(f"/reset/{token}").status_code == 404
    posted = browser.post(f"/reset/{token}", {"password": STRONG_PASSWORD}, form_page="/signin")
    assert posted.status_code == 404


def test_new_password_must_pass_the_policy(browser, link):
    for weak in ("password123", "alice-example", "", "short"):
        response = set_password(browser, link, weak)
        assert response.status_code == 422
        assert 'id="password-error"' in response.get_data(as_text=True)

    assert set_password(browser, link).status_code == 303  # the link still works


def test_htmx_errors_answer_the_form_fragment(browser, link):
    response = set_password(browser, link, "password", htmx=True)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="reset-password-form"' in html


def test_disabled_accounts_get_no_link(browser, make_user, outbox):
    make_user(email="dave@example.com", username="dave", active=False)

    assert request_reset(browser, "dave@example.com").status_code == 200
    assert outbox == []


def test_reset_link_token_is_not_logged(browser, link, caplog):
    caplog.clear()
    browser.get(link)
    token = link.rsplit("/", 1)[1]

    assert all(token not in str(vars(r)) for r in caplog.records)
    assert db.session.scalar(select(func.count()).select_from(OneTimeCode)) == 1
