"""Authenticator app on the pages: set it up from the profile (QR as SVG, secret as text),
sign in with a second step, turn it off; and the attacks: a replayed code, guessing codes,
a stolen password alone, a second step left waiting. All without JavaScript."""

import re
from datetime import timedelta

import pytest
from authenticator import totp_now
from sqlalchemy import select
from web_helpers import PASSWORD, STRONG_PASSWORD, deliver_held_mail, kinds_sent

from portal import clock
from portal.extensions import db
from portal.models import SecurityEvent, User, UserSession


def confirm_identity(browser, password=PASSWORD, code=None):
    data = {"password": password}
    if code is not None:
        data["code"] = code
    return browser.post("/profile/confirm", data, form_page="/profile")


def turn_on_totp(browser) -> tuple[str, list[str]]:
    """From the profile, as a person would: (secret, recovery codes)."""
    assert confirm_identity(browser).status_code == 303
    started = browser.post("/profile/totp", {}, form_page="/profile")
    assert started.headers["Location"] == "/profile/totp/setup"
    page = browser.get("/profile/totp/setup").get_data(as_text=True)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    done = browser.post(
        "/profile/totp/setup", {"code": totp_now(secret)}, form_page="/profile/totp/setup"
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    return secret, recovery_codes_in(done.get_data(as_text=True))


def recovery_codes_in(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", html)


def next_code(secret: str) -> str:
    clock.advance(timedelta(seconds=30))
    return totp_now(secret)


def second_step(browser, code, *, recovery=False):
    path = "/signin/code?method=recovery" if recovery else "/signin/code"
    field = "recovery_code" if recovery else "code"
    return browser.post(path, {field: code}, form_page=path)


@pytest.fixture
def totp_user(auth):
    """alice signed in, with TOTP on: (browser, secret, recovery codes)."""
    secret, codes = turn_on_totp(auth)
    return auth, secret, codes


def test_the_setup_page_shows_a_qr_code_and_the_secret(auth):
    confirm_identity(auth)
    auth.post("/profile/totp", {}, form_page="/profile")
    page = auth.get("/profile/totp/setup").get_data(as_text=True)
    assert "<svg" in page and "<path" in page  # made here: no image from elsewhere
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in page
    assert 'autocomplete="one-time-code"' in page
    assert "<script" not in page.split("<main")[1]  # the page needs no script of its own


def test_turning_totp_on_shows_ten_recovery_codes_once(auth, user, outbox):
    secret, codes = turn_on_totp(auth)
    assert len(codes) == 10
    assert db.session.get(User, user.id).totp_enabled
    profile = auth.get("/profile").get_data(as_text=True)
    assert "10 left" in profile
    assert not any(code in profile for code in codes)
    assert "mfa_enabled" in kinds_sent(outbox)


def test_the_recovery_codes_page_offers_a_download_and_copy(auth):
    confirm_identity(auth)
    auth.post("/profile/totp", {}, form_page="/profile")
    page = auth.get("/profile/totp/setup").get_data(as_text=True)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    done = auth.post(
        "/profile/totp/setup", {"code": totp_now(secret)}, form_page="/profile/totp/setup"
    )
    html = done.get_data(as_text=True)
    assert 'download="portal-recovery-codes.txt"' in html
    assert 'href="data:text/plain;charset=utf-8,Portal%20recovery%20codes' in html
    assert "data-copy" in html
    assert done.headers["Cache-Control"] == "no-store"


def test_setting_up_needs_a_recent_proof(auth, user):
    clock.advance(timedelta(minutes=11))
    response = auth.post("/profile/totp", {}, form_page="/profile")
    assert response.headers["Location"] == "/profile#two-step"
    assert db.session.scalar(select(User.totp_enabled).where(User.id == user.id)) is False


def test_a_wrong_first_code_is_refused(auth, user):
    confirm_identity(auth)
    auth.post("/profile/totp", {}, form_page="/profile")
    page = auth.get("/profile/totp/setup").get_data(as_text=True)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    wrong = f"{(int(totp_now(secret)) + 7) % 1_000_000:06d}"
    response = auth.post("/profile/totp/setup", {"code": wrong}, form_page="/profile/totp/setup")
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)
    assert not db.session.get(User, user.id).totp_enabled


def test_signing_in_takes_the_password_then_a_code(totp_user, new_browser):
    _, secret, _ = totp_user
    browser = new_browser()
    response = browser.post("/signin", {"login": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/signin/code"
    # No session yet: the profile still asks to sign in.
    assert browser.get("/profile").status_code == 302
    page = browser.get("/signin/code").get_data(as_text=True)
    assert "authenticator app" in page and "Use a recovery code" in page

    done = second_step(browser, next_code(secret))
    assert done.headers["Location"] == "/profile"
    assert browser.get("/profile").status_code == 200
    session = db.session.scalar(select(UserSession).order_by(UserSession.created_at.desc()))
    assert session.second_factor == "totp"


def test_the_next_page_is_kept_through_the_second_step(totp_user, new_browser):
    _, secret, _ = totp_user
    browser = new_browser()
    browser.post("/signin", {"login": "alice", "password": PASSWORD, "next": "/sessions"})
    assert second_step(browser, next_code(secret)).headers["Location"] == "/sessions"


def test_the_second_step_page_needs_the_password_first(client):
    assert client.get("/signin/code").headers["Location"] == "/signin"


def test_a_code_is_accepted_once(totp_user, new_browser):
    _, secret, _ = totp_user
    code = next_code(secret)
    first = new_browser()
    first.post("/signin", {"login": "alice", "password": PASSWORD})
    assert second_step(first, code).status_code == 303

    thief = new_browser()  # saw the code over the owner's shoulder, in the same 30 seconds
    thief.post("/signin", {"login": "alice", "password": PASSWORD})
    replay = second_step(thief, code)
    assert replay.status_code == 422
    assert "That code is not right" in replay.get_data(as_text=True)


def test_guessing_codes_ends_in_429(totp_user, new_browser):
    _, secret, _ = totp_user
    thief = new_browser()
    right = next_code(secret)
    statuses = []
    guesses = (f"{n:06d}" for n in range(100) if f"{n:06d}" != right)
    for _ in range(4):
        thief.post("/signin", {"login": "alice", "password": PASSWORD})
        for _ in range(3):
            response = second_step(thief, next(guesses))
            statuses.append(response.status_code)
            if response.status_code != 422:
                break
    assert statuses[:10] == [422] * 10
    assert 429 in statuses
    locked = thief.post("/signin", {"login": "alice", "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_three_wrong_codes_end_the_second_step(totp_user, new_browser):
    _, secret, _ = totp_user
    browser = new_browser()
    browser.post("/signin", {"login": "alice", "password": PASSWORD})
    for _ in range(3):
        assert second_step(browser, "000000").status_code == 422
    response = second_step(browser, next_code(secret))
    assert response.headers["Location"] == "/signin"
    assert "Sign in again" in browser.get("/signin").get_data(as_text=True)


def test_a_second_step_left_waiting_expires_after_five_minutes(totp_user, new_browser):
    _, secret, _ = totp_user
    browser = new_browser()
    browser.post("/signin", {"login": "alice", "password": PASSWORD})
    clock.advance(timedelta(minutes=5, seconds=1))
    assert second_step(browser, totp_now(secret)).headers["Location"] == "/signin"


def test_a_password_change_ends_waiting_second_steps(totp_user, new_browser):
    owner, secret, _ = totp_user
    thief = new_browser()
    thief.post("/signin", {"login": "alice", "password": PASSWORD})
    changed = owner.post(
        "/profile/password",
        {
            "current_password": PASSWORD,
            "code": next_code(secret),
            "new_password": STRONG_PASSWORD,
        },
        form_page="/profile",
    )
    assert changed.status_code == 303, changed.get_data(as_text=True)
    assert second_step(thief, next_code(secret)).headers["Location"] == "/signin"


def test_a_wrong_second_step_emails_the_owner(totp_user, new_browser, outbox):
    deliver_held_mail()
    thief = new_browser()
    thief.post("/signin", {"login": "alice", "password": PASSWORD})
    second_step(thief, "123123")
    deliver_held_mail()
    assert kinds_sent(outbox).count("second_step_failed") == 1
    kinds = db.session.scalars(select(SecurityEvent.kind)).all()
    assert "second_step_failed" in kinds


def test_turning_totp_off_needs_the_password_and_a_code(totp_user, user, outbox):
    browser, secret, _ = totp_user
    clock.advance(timedelta(minutes=11))
    page = browser.get("/profile").get_data(as_text=True)
    assert 'name="code"' in page  # the confirm step asks for a code now

    without_code = confirm_identity(browser)
    assert without_code.status_code == 422
    assert "Enter a code" in without_code.get_data(as_text=True)
    assert (
        browser.post("/profile/totp/disable", {}, form_page="/profile").headers["Location"]
        == "/profile#two-step"
    )
    assert db.session.get(User, user.id).totp_enabled

    deliver_held_mail()  # (10 minutes pass: the mfa_enabled notice has gone)
    assert confirm_identity(browser, code=totp_now(secret)).status_code == 303
    assert browser.post("/profile/totp/disable", {}, form_page="/profile").status_code == 303
    assert not db.session.get(User, user.id).totp_enabled
    deliver_held_mail()
    assert "mfa_disabled" in kinds_sent(outbox)


def test_a_stolen_password_and_session_cannot_turn_it_off(totp_user, user):
    """Five wrong codes with the right password end the session, the factor stays."""
    browser, _, _ = totp_user
    clock.advance(timedelta(minutes=11))
    statuses = [confirm_identity(browser, code=f"{n:06d}").status_code for n in range(5)]
    assert statuses == [422, 422, 422, 422, 303]
    assert browser.get("/profile").status_code == 302  # signed out
    assert db.session.get(User, user.id).totp_enabled


def test_email_change_and_deletion_ask_for_a_code_too(totp_user, user):
    browser, secret, _ = totp_user
    page = browser.get("/profile").get_data(as_text=True)
    assert 'id="email-code"' in page and 'id="password-code"' in page
    response = browser.post("/profile/delete", {"password": PASSWORD}, form_page="/profile/delete")
    assert response.status_code == 422
    assert db.session.get(User, user.id) is not None
    deleted = browser.post(
        "/profile/delete",
        {"password": PASSWORD, "code": next_code(secret)},
        form_page="/profile/delete",
    )
    assert deleted.status_code == 303


def test_activity_shows_the_second_factor_events(totp_user):
    browser, secret, _ = totp_user
    page = browser.get("/activity").get_data(as_text=True)
    assert "Two-step sign-in with an authenticator app turned on" in page
