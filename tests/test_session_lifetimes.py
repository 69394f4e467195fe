"""How long a browser stays signed in (3 days unused, 14 at most) and the cap of 100 active
sessions per account (README "Rules worth knowing")."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_helpers import CHROME_WINDOWS_UA, PASSWORD, PHONE_UA, csrf_token

from portal import clock
from portal.extensions import db
from portal.flows.sessions import start_session
from portal.models import SecurityEvent, UserSession
from portal.origin import Origin


def web_session(user) -> UserSession:
    [session] = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.kind == "web")
    )
    return session


def active_count(user) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.active_clause())
    )


def signed_out_with(browser, message: str) -> None:
    """The browser's next request finds it signed out and, once, tells it why."""
    assert browser.get("/profile").status_code == 302
    assert message in browser.get("/signin").get_data(as_text=True)
    assert browser.get("/profile").status_code == 302


# -- idle and maximum age ------------------------------------------------------------------


def test_a_web_session_used_every_two_days_lasts_until_day_14(auth, user):
    started = web_session(user).created_at
    for _ in range(5):  # days 2, 4, ... 10: each visit starts the 3 idle days again
        clock.advance(timedelta(days=2))
        assert auth.get("/profile").status_code == 200
        session = web_session(user)
        assert session.expires_at == session.last_seen_at + timedelta(days=3)

    clock.advance(timedelta(days=2))  # day 12: 3 more days would pass the maximum
    assert auth.get("/profile").status_code == 200
    assert web_session(user).expires_at == started + timedelta(days=14)
    clock.advance(timedelta(days=1, hours=23))  # day 13 and 23 hours: still in
    assert auth.get("/profile").status_code == 200

    clock.advance(timedelta(hours=1, minutes=1))
    signed_out_with(auth, "You were signed out: a sign-in lasts 14 days at most.")


def test_an_unused_web_session_ends_after_three_days(auth, user):
    clock.advance(timedelta(days=3, minutes=1))

    signed_out_with(auth, "You were signed out after 3 days without use.")
    assert active_count(user) == 0
    # Signing in again works, on a new session.
    auth.sign_in()
    assert auth.get("/profile").status_code == 200


def test_a_web_session_unused_for_almost_three_days_still_works(auth, user):
    clock.advance(timedelta(days=2, hours=23, minutes=58))

    assert auth.get("/profile").status_code == 200
    session = web_session(user)
    assert session.expires_at == session.last_seen_at + timedelta(days=3)


def test_the_cookie_lasts_the_maximum_and_the_server_decides_sooner(app, auth):
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=14)
    cookie = auth.client.get_cookie("portal")
    assert cookie.expires is not None
    assert cookie.expires - clock.utcnow() > timedelta(days=13)


# -- at most 100 active sessions -----------------------------------------------------------


def fill(user, count: int) -> None:
    """`count` more sessions of `user`, each used a minute after the previous one."""
    for n in range(count):
        clock.advance(timedelta(minutes=1))
        start_session(user, "web", Origin(f"198.51.100.{n % 250}", CHROME_WINDOWS_UA))
    db.session.commit()


def test_the_101st_sign_in_ends_the_least_recently_used_session(new_browser, browser, user):
    laptop = browser
    laptop.sign_in()  # the oldest session...
    phone = new_browser(PHONE_UA)
    phone.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    phone.sign_in()
    phones = db.session.scalar(
        select(UserSession).where(UserSession.device_label == "Mobile Safari on iOS")
    )
    fill(user, 98)
    clock.advance(timedelta(minutes=5))
    assert laptop.get("/profile").status_code == 200  # ...but used since: the phone is LRU
    assert active_count(user) == 100

    newcomer = new_browser(CHROME_WINDOWS_UA)
    newcomer.sign_in()

    assert active_count(user) == 100
    assert newcomer.get("/profile").status_code == 200
    assert laptop.get("/profile").status_code == 200
    db.session.refresh(phones)
    assert phones.revoked_at is not None
    assert phones.revoked_reason == "Too many active sessions"
    signed_out_with(phone, "You were signed out on this device (too many active sessions).")

    [event] = db.session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == "session_evicted")
    )
    assert event.user_id == user.id and event.session_id == phones.id
    assert event.data["device"] == "Mobile Safari on iOS"
    assert event.device_label == "Chrome on Windows"  # the sign-in that went over
    activity = laptop.get("/activity").get_data(as_text=True)
    assert (
        "Ended your least recently used session, on Mobile Safari on iOS, to make room for a "
        "new sign-in from Chrome on Windows" in " ".join(re.sub(r"<[^>]+>", " ", activity).split())
    )


def test_below_the_cap_no_session_ends(browser, user):
    fill(user, 98)
    browser.sign_in()

    assert active_count(user) == 99
    evicted = select(SecurityEvent).where(SecurityEvent.kind == "session_evicted")
    assert db.session.scalars(evicted).all() == []


@pytest.mark.parametrize("app_config", [{"MAX_ACTIVE_SESSIONS": 3}])
def test_the_new_sign_in_is_never_the_one_ended(browser, user):
    fill(user, 5)  # already past a lowered cap (it was higher when they signed in)
    clock.advance(timedelta(days=-1))  # a clock step back: every other session looks newer

    browser.sign_in()

    assert active_count(user) == 3
    assert browser.get("/profile").status_code == 200


def test_a_sign_in_costs_the_same_statements_however_many_sessions_there_are(
    app, new_browser, user, count_queries
):
    def statements_of_a_sign_in() -> int:
        device = new_browser(CHROME_WINDOWS_UA)
        token = csrf_token(device.client)
        # Each new-device notice the first in its 10 minutes (merging costs other statements).
        clock.advance(timedelta(minutes=11))
        db.session.expire_all()
        with count_queries() as queries:
            device.post("/signin", {"login": "alice", "password": PASSWORD, "csrf_token": token})
        assert device.get("/profile").status_code == 200
        return len(queries)

    statements_of_a_sign_in()  # the account's first device: known quietly, never announced
    few = statements_of_a_sign_in()
    fill(user, 97)
    below_cap = statements_of_a_sign_in()  # the 100th
    over_cap = statements_of_a_sign_in()  # the 101st ends one
    app.config["MAX_ACTIVE_SESSIONS"] = 1_000  # 60 more, as if the cap had been higher
    fill(user, 60)
    app.config["MAX_ACTIVE_SESSIONS"] = 100
    far_over_cap = statements_of_a_sign_in()  # ends 61 at once

    assert active_count(user) == 100
    assert below_cap == few
    # Ending sessions is one UPDATE; their events one INSERT (or part of the sign-in's own).
    assert over_cap - few in (0, 1)
    assert far_over_cap == over_cap
