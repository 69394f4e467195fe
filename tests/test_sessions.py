"""The sessions page: every signed-in device, ended one at a time (HTMX) or all but this one."""

import re
import uuid

import pytest
from sqlalchemy import func, select
from web_helpers import CHROME_WINDOWS_UA, FIREFOX_UA, PASSWORD, PHONE_UA

from portal.extensions import db
from portal.flows.sessions import start_session
from portal.models import UserSession
from portal.origin import Origin, device_label


def session_ids(user) -> list[str]:
    return [
        str(s.id)
        for s in db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.active_clause())
        )
    ]


def row(html: str, session_id: str) -> str:
    match = re.search(rf'<tr id="session-{session_id}">(.*?)</tr>', html, re.S)
    assert match, f"no row for session {session_id}"
    return match.group(1)


@pytest.fixture
def phone(new_browser, user):
    """Alice's second device, an iPhone at another address."""
    browser = new_browser(PHONE_UA)
    browser.client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    browser.sign_in()
    return browser


def phone_session_id(user) -> str:
    return str(
        db.session.scalar(
            select(UserSession.id).where(
                UserSession.user_id == user.id, UserSession.device_label == "Mobile Safari on iOS"
            )
        )
    )


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (FIREFOX_UA, "Firefox on Linux"),
        (PHONE_UA, "Mobile Safari on iOS"),
        (CHROME_WINDOWS_UA, "Chrome on Windows"),
        ("", "Unknown device"),
        ("curl/8.5.0", "curl"),
    ],
)
def test_device_labels_are_parsed_from_the_user_agent(agent, label):
    assert device_label(agent) == label


def test_page_lists_every_active_session_with_its_details(auth, phone, user):
    response = auth.get("/sessions")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    phone_id = phone_session_id(user)
    [laptop_id] = [sid for sid in session_ids(user) if sid != phone_id]
    laptop, iphone = row(html, laptop_id), row(html, phone_id)
    assert "Firefox on Linux" in laptop and "127.0.0.1" in laptop
    assert "This device" in laptop
    assert "Mobile Safari on iOS" in iphone and "203.0.113.7" in iphone
    assert "This device" not in iphone
    for cells in (laptop, iphone):
        assert len(re.findall(r"<time datetime=", cells)) == 2  # started, last seen
    # The phone's page marks the phone as this device.
    assert "This device" in row(phone.get("/sessions").get_data(as_text=True), phone_id)


def test_ended_sessions_are_not_listed(auth, phone, user):
    phone.sign_out()

    html = auth.get("/sessions").get_data(as_text=True)

    assert "Mobile Safari on iOS" not in html


def test_sessions_page_needs_a_signed_in_browser(browser):
    assert browser.get("/sessions").status_code == 302


def test_end_another_session_by_post(auth, phone, user):
    sid = phone_session_id(user)

    response = auth.post(f"/sessions/{sid}/end", form_page="/sessions")

    assert response.status_code == 303
    assert response.headers["Location"] == "/sessions"
    assert sid not in session_ids(user)
    # The ended browser is signed out on its very next request.
    assert phone.get("/profile").status_code == 302
    assert auth.get("/profile").status_code == 200


def test_an_ended_browser_is_told_why_once_and_forgets_the_dead_session(
    auth, phone, user, count_queries
):
    sid = phone_session_id(user)
    auth.post(f"/sessions/{sid}/end", form_page="/sessions")

    page = phone.get("/signin").get_data(as_text=True)
    assert "You were signed out on this device (ended by you)." in page
    # The cookie no longer names the session: no look-up and no message any more.
    with count_queries() as statements:
        again = phone.get("/signin").get_data(as_text=True)
    assert "signed out on this device" not in again
    assert statements == []


def test_end_another_session_by_htmx_delete(auth, phone, user):
    sid = phone_session_id(user)
    html = auth.get("/sessions").get_data(as_text=True)
    url = re.search(rf'hx-delete="([^"]*{sid}[^"]*)"', html).group(1)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)

    response = auth.client.delete(url, headers={"HX-Request": "true", "X-CSRFToken": token})

    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<tr" not in body  # the row is swapped out with nothing
    assert '<div id="sessions-status" hx-swap-oob="innerHTML">' in body  # and announced
    assert "Signed out" in body
    assert phone.get("/profile").status_code == 302
    assert auth.get("/profile").status_code == 200


def test_htmx_delete_without_the_csrf_header_is_refused(auth, phone, user):
    sid = phone_session_id(user)

    response = auth.client.delete(f"/sessions/{sid}/end", headers={"HX-Request": "true"})

    assert response.status_code == 400
    assert phone.get("/profile").status_code == 200


def test_ending_this_session_signs_this_browser_out(auth, user):
    [sid] = session_ids(user)

    response = auth.post(f"/sessions/{sid}/end", form_page="/sessions")

    assert response.status_code == 303
    assert auth.get("/profile").status_code == 302


@pytest.mark.parametrize("sid", ["not-a-uuid", str(uuid.uuid4()), "x" * 5_000])
def test_unknown_sessions_are_not_found(auth, sid):
    assert auth.post(f"/sessions/{sid}/end", form_page="/sessions").status_code == 404


def test_another_users_session_is_not_found(auth, new_browser, make_user, user):
    make_user(email="bob@example.com", username="bob")
    bob = new_browser()
    bob.sign_in("bob")
    bobs = db.session.scalar(
        select(UserSession.id).where(UserSession.user_id != user.id, UserSession.kind == "web")
    )

    response = auth.post(f"/sessions/{bobs}/end", form_page="/sessions")

    assert response.status_code == 404
    assert bob.get("/profile").status_code == 200


def test_end_all_other_sessions(auth, phone, new_browser, user):
    tablet = new_browser(CHROME_WINDOWS_UA)
    tablet.sign_in()
    assert len(session_ids(user)) == 3

    response = auth.post("/sessions/end-others", form_page="/sessions")

    assert response.status_code == 303
    assert len(session_ids(user)) == 1
    assert auth.get("/profile").status_code == 200
    assert phone.get("/profile").status_code == 302
    assert tablet.get("/profile").status_code == 302


def test_sessions_page_statements_do_not_grow_with_sessions(auth, user, count_queries):
    def statements() -> int:
        db.session.expire_all()
        with count_queries() as queries:
            assert auth.get("/sessions").status_code == 200
        return len(queries)

    one = statements()
    for n in range(19):
        start_session(user, "web", Origin(f"198.51.100.{n}", PHONE_UA))
    db.session.commit()
    assert len(session_ids(user)) == 20

    assert statements() == one


def test_other_browsers_still_sign_in_after_others_were_ended(auth, phone, user):
    auth.post("/sessions/end-others", form_page="/sessions")

    phone.post("/signin", {"login": "alice", "password": PASSWORD})

    assert phone.get("/profile").status_code == 200
    assert (
        db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.active_clause())
        )
        == 2
    )


def test_last_seen_follows_activity_at_most_once_a_minute(auth, user):
    from datetime import timedelta

    from portal import clock

    [session] = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id))
    started = session.last_seen_at
    auth.get("/profile")
    assert session.last_seen_at == started  # within the minute: no write

    clock.advance(timedelta(minutes=5))
    auth.get("/profile")

    assert session.last_seen_at >= started + timedelta(minutes=5)
    assert session.created_at < session.last_seen_at
