"""Email confirmation: the 6-digit code turns this browser's pending sign-up into an account
and signs it in; it is hashed, counted, expires, and a resend supersedes it."""

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from web_helpers import last_code

from portal import clock
from portal.extensions import db
from portal.models import PendingSignUp, User, UserSession


@pytest.fixture
def signed_up(browser, outbox):
    """A browser that has just signed up as bob@example.com (code in the outbox)."""
    assert browser.sign_up().status_code == 303
    return browser


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def bob() -> User | None:
    return db.session.scalar(select(User).where(User.username == "bob"))


def attempts() -> int:
    return db.session.scalar(select(PendingSignUp.attempts))


def resend(browser, form_page="/verify", **kw):
    return browser.post("/verify/resend", {}, form_page=form_page, **kw)


def test_right_code_confirms_and_signs_in(signed_up, outbox):
    response = signed_up.verify(last_code(outbox))

    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    assert bob().is_verified
    assert db.session.scalar(select(func.count()).select_from(PendingSignUp)) == 0
    [session] = db.session.scalars(select(UserSession).where(UserSession.user_id == bob().id))
    assert session.kind == "web" and session.is_active
    profile = signed_up.get("/profile")
    assert profile.status_code == 200
    assert "bob@example.com" in profile.get_data(as_text=True)


def test_the_email_of_the_sign_up_is_remembered_by_the_verify_page(signed_up, outbox):
    code = last_code(outbox)
    response = signed_up.post("/verify", {"code": code}, form_page="/verify")

    assert response.status_code == 303
    assert bob().is_verified


def test_wrong_code_says_how_many_tries_are_left(signed_up, outbox):
    code = last_code(outbox)
    response = signed_up.verify(wrong(code))

    assert response.status_code == 422
    assert "That code is not right. 4 tries left." in response.get_data(as_text=True)
    assert "3 tries left" in signed_up.verify(wrong(code)).get_data(as_text=True)
    assert bob() is None
    assert attempts() == 2


def test_five_wrong_tries_burn_the_code(signed_up, outbox):
    code = last_code(outbox)
    for _ in range(4):
        signed_up.verify(wrong(code))
    fifth = signed_up.verify(wrong(code))
    assert "Too many wrong tries" in fifth.get_data(as_text=True)

    right = signed_up.verify(code)

    assert right.status_code == 422
    assert "Too many wrong tries. Ask for a new code." in right.get_data(as_text=True)
    assert bob() is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "x" * 10_000])
def test_malformed_codes_are_wrong_tries_not_errors(signed_up, outbox, typed):
    response = signed_up.verify(typed)

    assert response.status_code == 422
    assert "tries left" in response.get_data(as_text=True)


def test_code_expires_after_15_minutes(signed_up, outbox):
    code = last_code(outbox)
    clock.advance(timedelta(minutes=15, seconds=1))

    response = signed_up.verify(code)

    assert response.status_code == 422
    assert "That code has expired. Ask for a new one." in response.get_data(as_text=True)
    assert bob() is None


def test_code_still_works_just_before_15_minutes(signed_up, outbox):
    code = last_code(outbox)
    clock.advance(timedelta(minutes=14, seconds=50))

    assert signed_up.verify(code).status_code == 303


def test_resend_within_a_minute_sends_nothing_and_the_old_code_still_works(signed_up, outbox):
    code = last_code(outbox)
    clock.advance(timedelta(seconds=30))

    response = resend(signed_up)

    assert response.status_code == 303
    assert len(outbox) == 1
    assert signed_up.verify(code).status_code == 303


def test_resend_after_a_minute_supersedes_the_old_code(distinct_codes, signed_up, outbox):
    old = last_code(outbox)
    clock.advance(timedelta(seconds=61))

    resend(signed_up)

    assert [m["kind"] for m in outbox] == ["verify_email", "verify_email"]
    new = last_code(outbox)
    assert db.session.scalar(select(func.count()).select_from(PendingSignUp)) == 1
    refused = signed_up.verify(old)
    assert refused.status_code == 422
    assert bob() is None
    assert signed_up.verify(new).status_code == 303


def test_resend_by_htmx_answers_a_status_fragment(signed_up, outbox):
    clock.advance(timedelta(minutes=2))
    response = resend(signed_up, htmx=True)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert "a new code is on its way" in html
    assert len(outbox) == 2


def test_resend_without_a_sign_up_in_this_browser_sends_nothing(browser, outbox):
    response = resend(browser, form_page="/signin", htmx=True)

    assert response.status_code == 200
    assert "a new code is on its way" in response.get_data(as_text=True)
    assert outbox == []


def test_codes_are_stored_only_as_keyed_hashes(signed_up, outbox):
    code = last_code(outbox)

    rows = db.session.execute(text("SELECT * FROM pending_signups")).all()

    assert len(rows) == 1
    assert code not in repr(rows)
    stored = db.session.scalar(select(PendingSignUp.code_hash))
    assert stored not in (
        hashlib.sha256(code.encode()).hexdigest(),
        hashlib.sha256(f"verify_email:{code}".encode()).hexdigest(),
    )


def test_the_verify_page_without_a_sign_up_points_to_sign_in(browser):
    page = browser.get("/verify").get_data(as_text=True)
    assert "sign in with the email (or username) and password you chose" in page

    response = browser.post("/verify", {"code": "123456"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/signin"
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_someone_elses_code_does_not_confirm_an_account(
    distinct_codes, signed_up, new_browser, outbox
):
    bobs_code = last_code(outbox)
    other = new_browser()
    other.sign_up(email="carol@example.com", username="carol")

    response = other.verify(bobs_code, email="carol@example.com")

    assert response.status_code == 422
    assert db.session.scalar(select(User).where(User.username == "carol")) is None


def test_the_code_email_names_the_username_and_device_of_its_sign_up(signed_up, outbox):
    text_body = outbox[-1]["text"]

    assert 'sign-up of "bob" made on Firefox on Linux' in text_body
