"""Recovery codes on the pages: sign in with one (once), the owner is told how many are left,
new codes void the old ones, re-authentication takes one too."""

from datetime import timedelta

from sqlalchemy import select
from test_mfa_totp import confirm_identity, recovery_codes_in, second_step, turn_on_totp
from web_helpers import PASSWORD, deliver_held_mail, kinds_sent

from portal import clock
from portal.extensions import db
from portal.flows import recovery_codes
from portal.models import SecurityEvent, User, UserSession


def sign_in_with_recovery_code(new_browser, code):
    browser = new_browser()
    browser.post("/signin", {"login": "alice@example.com", "password": PASSWORD})
    return browser, second_step(browser, code, recovery=True)


def test_a_recovery_code_signs_in_once(auth, new_browser, outbox):
    _, codes = turn_on_totp(auth)
    deliver_held_mail()
    page = new_browser()
    page.post("/signin", {"login": "alice", "password": PASSWORD})
    form = page.get("/signin/code?method=recovery").get_data(as_text=True)
    assert 'name="recovery_code"' in form

    browser, response = sign_in_with_recovery_code(new_browser, f"  {codes[0].upper()} ")
    assert response.headers["Location"] == "/profile"
    assert "9 left" in browser.get("/profile").get_data(as_text=True)
    session = db.session.scalar(select(UserSession).order_by(UserSession.created_at.desc()))
    assert session.second_factor == "recovery_code"

    deliver_held_mail()
    assert "recovery_code_used" in kinds_sent(outbox)
    message = next(m for m in outbox if m["kind"] == "recovery_code_used")
    assert "You have 9 recovery codes left" in message["text"]
    event = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == "recovery_code_used")
    )
    assert event.data["left"] == "9"

    _, reuse = sign_in_with_recovery_code(new_browser, codes[0])
    assert reuse.status_code == 422
    assert "not right or was used" in reuse.get_data(as_text=True)


def test_codes_without_the_dash_work_too(auth, new_browser):
    _, codes = turn_on_totp(auth)
    _, response = sign_in_with_recovery_code(new_browser, codes[4].replace("-", ""))
    assert response.status_code == 303


def test_the_last_code_says_none_are_left(auth, new_browser, outbox, user):
    _, codes = turn_on_totp(auth)
    for code in codes[:9]:
        recovery_codes.spend(user, code)
    db.session.commit()
    deliver_held_mail()
    _, response = sign_in_with_recovery_code(new_browser, codes[9])
    assert response.status_code == 303
    deliver_held_mail()
    message = [m for m in outbox if m["kind"] == "recovery_code_used"][-1]
    assert "no recovery codes left" in message["text"]
    assert db.session.get(User, user.id).recovery_codes_left == 0


def test_new_recovery_codes_void_the_old_ones(auth, new_browser, user):
    secret, old = turn_on_totp(auth)
    page = auth.post("/profile/recovery-codes", {}, form_page="/profile")
    new = recovery_codes_in(page.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    assert db.session.get(User, user.id).recovery_codes_left == 10

    _, stale = sign_in_with_recovery_code(new_browser, old[2])
    assert stale.status_code == 422
    _, fresh = sign_in_with_recovery_code(new_browser, new[2])
    assert fresh.status_code == 303


def test_new_codes_need_a_recent_proof(auth, user):
    turn_on_totp(auth)
    clock.advance(timedelta(minutes=11))
    response = auth.post("/profile/recovery-codes", {}, form_page="/profile")
    assert response.headers["Location"] == "/profile#two-step"


def test_a_recovery_code_confirms_its_you(auth, user):
    _, codes = turn_on_totp(auth)
    clock.advance(timedelta(minutes=11))
    assert confirm_identity(auth, code=codes[7]).status_code == 303
    assert db.session.get(User, user.id).recovery_codes_left == 9
    # and it is spent: it does not confirm twice
    clock.advance(timedelta(minutes=11))
    assert confirm_identity(auth, code=codes[7]).status_code == 422
