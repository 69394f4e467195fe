"""An admin ends a user's sessions with a reason: that device loses access at once."""

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD, PHONE_UA

from portal.extensions import db
from portal.models import SecurityEvent, UserSession


@pytest.fixture
def phone(new_browser, user):
    """Alice's phone, signed in."""
    browser = new_browser(PHONE_UA)
    browser.sign_in("alice@example.com", PASSWORD)
    return browser


def sessions_of(user) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def phone_session(user) -> UserSession:
    return next(s for s in sessions_of(user) if "iOS" in s.device_label)


def events_of(user, kind) -> list[SecurityEvent]:
    return list(
        db.session.scalars(
            select(SecurityEvent).where(
                SecurityEvent.user_id == user.id, SecurityEvent.kind == kind
            )
        )
    )


def test_the_user_page_shows_sessions_with_device_ip_and_times(admin, user, phone, member):
    html = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert html.count('<tr id="session-') == 2
    assert "Mobile Safari on iOS" in html and "Firefox on Linux" in html
    assert "127.0.0.1" in html
    assert "Signed in" in html  # recent events


def test_ending_a_session_signs_that_browser_out_and_tells_the_owner_why(
    admin, user, phone, member, admin_user
):
    assert phone.get("/sessions").status_code == 200
    session = phone_session(user)

    response = admin.post(
        f"/admin/users/{user.id}/sessions/{session.id}/end",
        {"reason": "  lost   device "},
        form_page=f"/admin/users/{user.id}",
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/users/{user.id}")

    db.session.refresh(session)
    assert session.revoked_reason == "Ended by an administrator: lost device"
    # the phone is signed out on its next request; the laptop stays signed in
    response = phone.get("/sessions")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    # ...and told why on the page it lands on.
    signin = phone.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed out on this device (ended by an administrator: lost device)." in signin
    assert member.get("/sessions").status_code == 200

    [event] = events_of(user, "session_ended")
    assert event.actor_id == admin_user.id
    assert event.session_id == session.id
    assert event.data == {"device": "Mobile Safari on iOS", "reason": "lost device"}
    activity = member.get("/activity").get_data(as_text=True)
    assert "An administrator ended your session on Mobile Safari on iOS: lost device" in activity
    assert "root@example.com" not in activity  # the owner is not told which admin


def test_a_reason_is_required_and_short(admin, user, phone):
    session = phone_session(user)
    url = f"/admin/users/{user.id}/sessions/{session.id}/end"
    for reason, message in [("   ", "Give a short reason"), ("x" * 121, "under 120 characters")]:
        response = admin.post(url, {"reason": reason}, form_page=f"/admin/users/{user.id}")
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    db.session.refresh(session)
    assert session.revoked_at is None
    assert events_of(user, "session_ended") == []


def test_htmx_end_answers_the_sessions_card_and_the_new_events(admin, user, phone, member):
    session = phone_session(user)
    response = admin.post(
        f"/admin/users/{user.id}/sessions/{session.id}/end",
        {"reason": "stolen"},
        form_page=f"/admin/users/{user.id}",
        htmx=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card" id="user-sessions"')
    assert f"session-{session.id}" not in html and html.count('<tr id="session-') == 1
    assert "Ended the session on Mobile Safari on iOS." in html
    assert 'id="user-events"' in html and 'hx-swap-oob="true"' in html
    assert "ended their session on Mobile Safari on iOS: stolen" in html

    # without a reason the card comes back with the error, as 422 (swapped in by HTMX)
    other = next(s for s in sessions_of(user) if s.is_active)
    response = admin.client.delete(
        f"/admin/users/{user.id}/sessions/{other.id}",
        headers={"HX-Request": "true", "X-CSRFToken": admin.csrf_token(f"/admin/users/{user.id}")},
    )
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


def test_htmx_delete_with_a_reason_in_the_query_string_ends_the_session(admin, user, phone):
    session = phone_session(user)
    response = admin.client.delete(
        f"/admin/users/{user.id}/sessions/{session.id}?reason=lost",
        headers={"HX-Request": "true", "X-CSRFToken": admin.csrf_token(f"/admin/users/{user.id}")},
    )
    assert response.status_code == 200
    db.session.refresh(session)
    assert session.revoked_reason == "Ended by an administrator: lost"


def test_a_session_of_someone_else_or_already_ended_is_not_found(admin, user, phone, make_user):
    bob = make_user(email="bob@example.com", username="bob")
    session = phone_session(user)
    page = f"/admin/users/{user.id}"
    wrong_user = admin.post(
        f"/admin/users/{bob.id}/sessions/{session.id}/end", {"reason": "x"}, form_page=page
    )
    assert wrong_user.status_code == 404
    assert (
        admin.post(f"{page}/sessions/nonsense/end", {"reason": "x"}, form_page=page).status_code
        == 404
    )
    admin.post(f"{page}/sessions/{session.id}/end", {"reason": "x"}, form_page=page)
    again = admin.post(f"{page}/sessions/{session.id}/end", {"reason": "x"}, form_page=page)
    assert again.status_code == 404


def test_ending_all_sessions_signs_every_device_out(admin, user, phone, member, admin_user):
    response = admin.post(
        f"/admin/users/{user.id}/sessions/end-all",
        {"reason": "account compromised"},
        form_page=f"/admin/users/{user.id}",
    )
    assert response.status_code == 303
    assert all(not s.is_active for s in sessions_of(user))
    assert {s.revoked_reason for s in sessions_of(user)} == {
        "Ended by an administrator: account compromised"
    }
    for device in (phone, member):
        assert device.get("/sessions").status_code == 302
    [event] = events_of(user, "all_sessions_ended")
    assert event.actor_id == admin_user.id
    assert event.data == {"count": "2", "reason": "account compromised"}
    assert admin.get("/admin/").status_code == 200  # the admin's own session is untouched


def test_end_all_needs_a_reason(admin, user, phone):
    response = admin.post(
        f"/admin/users/{user.id}/sessions/end-all",
        {"reason": ""},
        form_page=f"/admin/users/{user.id}",
    )
    assert response.status_code == 422
    assert 'id="reason-all-error"' in response.get_data(as_text=True)
    assert phone_session(user).is_active


def test_an_admin_ending_all_their_own_sessions_keeps_this_one(admin, admin_user, new_browser):
    other = new_browser(PHONE_UA)
    other.sign_in("root@example.com", PASSWORD)
    admin.post(
        f"/admin/users/{admin_user.id}/sessions/end-all",
        {"reason": "cleanup"},
        form_page="/admin/",
    )
    assert admin.get("/admin/").status_code == 200
    assert other.get("/admin/").status_code == 302


def test_ending_an_api_session_kills_its_access_token_at_once(app, admin, user):
    api = app.test_client()
    tokens = api.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    ).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert api.get("/api/v1/users/me", headers=bearer).status_code == 200
    [session] = [s for s in sessions_of(user) if s.kind == "api"]

    admin.post(
        f"/admin/users/{user.id}/sessions/{session.id}/end",
        {"reason": "lost phone"},
        form_page=f"/admin/users/{user.id}",
    )
    response = api.get("/api/v1/users/me", headers=bearer)
    assert response.status_code == 401
    assert response.get_json()["code"] == "session_ended"
    refresh = api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
