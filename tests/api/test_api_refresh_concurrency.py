"""Two (or more) concurrent refreshes of one token never both rotate: real threads against a
served app on its own database, so the row lock (SELECT ... FOR UPDATE) is what decides."""

import uuid

import jwt
import requests
from race_helpers import all_at_once
from sqlalchemy import select

from portal.extensions import db
from portal.models import SecurityEvent, UserSession

THREADS = 12


def jti(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def test_concurrent_refreshes_rotate_once(live_app, live_server, live_user):
    email, password = live_user
    login = requests.post(
        f"{live_server}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
    )
    assert login.status_code == 200, login.text
    first = login.json()

    def refresh(ready):
        ready()
        return requests.post(
            f"{live_server}/api/v1/auth/refresh",
            json={"refresh_token": first["refresh_token"]},
            timeout=20,
        )

    results = all_at_once(THREADS, refresh)

    assert len(results) == THREADS
    assert [r.status_code for r in results] == [200] * THREADS, [r.text for r in results]
    new_jtis = {jti(r.json()["refresh_token"]) for r in results}
    assert len(new_jtis) == 1, "more than one refresh rotated"
    (new_jti,) = new_jtis
    assert new_jti != jti(first["refresh_token"])

    with live_app.app_context():
        sid = uuid.UUID(
            jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
        )
        session = db.session.get(UserSession, sid)
        assert session.refresh_jti == new_jti
        assert session.previous_refresh_jti == jti(first["refresh_token"])
        assert session.revoked_at is None
        assert (
            db.session.scalar(
                select(SecurityEvent).where(SecurityEvent.kind == "refresh_token_reused")
            )
            is None
        )
        db.session.remove()

    # the one new token goes on working
    again = requests.post(
        f"{live_server}/api/v1/auth/refresh",
        json={"refresh_token": results[0].json()["refresh_token"]},
        timeout=10,
    )
    assert again.status_code == 200


def test_concurrent_reuse_of_a_stale_token_ends_the_session_once(live_app, live_server, live_user):
    """A token two rotations old, presented by many threads at once: the session ends, and
    the owner gets exactly one email."""
    email, password = live_user
    base = f"{live_server}/api/v1"
    pair = requests.post(
        f"{base}/auth/login", json={"email": email, "password": password}, timeout=10
    ).json()
    stale = pair["refresh_token"]
    for _ in range(2):
        pair = requests.post(
            f"{base}/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10
        ).json()

    def reuse(ready):
        ready()
        return requests.post(
            f"{base}/auth/refresh", json={"refresh_token": stale}, timeout=20
        ).status_code

    statuses = all_at_once(4, reuse)
    assert statuses == [401] * 4
    with live_app.app_context():
        events = db.session.scalars(
            select(SecurityEvent).where(SecurityEvent.kind == "refresh_token_reused")
        ).all()
        assert len(events) == 1
        db.session.remove()
    me = requests.get(
        f"{base}/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}, timeout=10
    )
    assert me.status_code == 401
