"""How long an API session lasts: 7 days without a refresh, 30 days at most; and the cap of
100 active sessions per account for API sign-ins (README "Rules worth knowing")."""

import uuid
from datetime import timedelta

import jwt
from api_helpers import assert_problem
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.flows.sessions import start_session
from portal.models import SecurityEvent, UserSession
from portal.origin import Origin


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def session_of(token: str) -> UserSession:
    db.session.expire_all()
    return db.session.get(UserSession, uuid.UUID(claims(token)["sid"]))


def refresh(api, token: str):
    return api.post("/auth/refresh", {"refresh_token": token})


def test_an_api_session_refreshed_every_six_days_ends_at_day_30(api, tokens):
    started = session_of(tokens["refresh_token"]).created_at
    current = tokens
    for day in (6, 12, 18, 24):
        clock.advance(timedelta(days=6))
        response = refresh(api, current["refresh_token"])
        assert response.status_code == 200
        current = response.get_json()
        assert api.get("/users/me", token=current["access_token"]).status_code == 200
        # 7 more days from each refresh, but never past day 30 (day 24 + 7 would be 31).
        session = session_of(current["refresh_token"])
        if day < 24:
            assert session.expires_at == session.refreshed_at + timedelta(days=7)
        else:
            assert session.expires_at == started + timedelta(days=30)
        assert claims(current["refresh_token"])["exp"] == int(session.expires_at.timestamp())

    clock.advance(timedelta(days=5, hours=23, minutes=45))  # just before day 30: still works
    response = refresh(api, current["refresh_token"])
    assert response.status_code == 200
    current = response.get_json()
    assert session_of(current["refresh_token"]).expires_at == started + timedelta(days=30)

    # Day 30 and a minute: this access token has 14 minutes left, but its session is over.
    clock.advance(timedelta(minutes=16))
    assert_problem(api.get("/users/me", token=current["access_token"]), 401, "session_ended")
    assert_problem(refresh(api, current["refresh_token"]), 401)


def test_an_api_session_not_refreshed_for_seven_days_ends(api, tokens):
    clock.advance(timedelta(days=7, minutes=1))

    assert_problem(refresh(api, tokens["refresh_token"]), 401)
    assert not session_of(tokens["refresh_token"]).is_active


def test_using_access_tokens_does_not_extend_an_api_session(api, tokens):
    clock.advance(timedelta(days=6))
    current = refresh(api, tokens["refresh_token"]).get_json()
    expires = session_of(current["refresh_token"]).expires_at
    assert expires == session_of(current["refresh_token"]).refreshed_at + timedelta(days=7)

    clock.advance(timedelta(minutes=20))
    assert api.get("/users/me", token=current["access_token"]).status_code == 200

    session = session_of(current["refresh_token"])
    assert session.last_seen_at > session.refreshed_at  # the use was noted...
    assert session.expires_at == expires  # ...but only a refresh keeps an API session alive
    clock.advance(timedelta(days=7))
    assert_problem(refresh(api, current["refresh_token"]), 401)


def test_an_api_sign_in_past_100_sessions_ends_the_least_recently_used(api, user, tokens):
    oldest = session_of(tokens["refresh_token"])
    for n in range(99):
        clock.advance(timedelta(minutes=1))
        start_session(user, "web", Origin(f"198.51.100.{n}", "Mozilla/5.0 Firefox/128.0"))
    db.session.commit()

    newest = api.login()

    assert_problem(refresh(api, tokens["refresh_token"]), 401, "session_ended")
    assert session_of(tokens["refresh_token"]).revoked_reason == "Too many active sessions"
    assert api.get("/users/me", token=newest["access_token"]).status_code == 200
    active = db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.active_clause())
    )
    assert active == 100
    [event] = db.session.scalars(
        select(SecurityEvent).where(SecurityEvent.kind == "session_evicted")
    )
    assert event.session_id == oldest.id
    assert event.data["device"] == oldest.device_label
