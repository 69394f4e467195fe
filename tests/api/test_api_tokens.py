"""Tokens: claims, refresh rotation, reuse detection, and every way a token must fail."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from api_helpers import TOKEN_FIELDS, assert_problem
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import SecurityEvent, UserSession


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def session_of(token: str) -> UserSession:
    db.session.expire_all()
    return db.session.get(UserSession, __import__("uuid").UUID(claims(token)["sid"]))


def refresh(api, token):
    return api.post("/auth/refresh", {"refresh_token": token})


def test_token_claims(app, user, tokens):
    access, refresh_claims = claims(tokens["access_token"]), claims(tokens["refresh_token"])
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
    # flask-jwt-extended always adds `fresh`; nothing else beyond the contract (iss and aud
    # see README "Rules worth knowing")
    base = {"sub", "sid", "jti", "iat", "exp", "type", "fresh", "iss", "aud"}
    assert set(access) == base | {"email"}
    assert set(refresh_claims) == base
    for token_claims in (access, refresh_claims):
        assert token_claims["iss"] == app.config["PORTAL_BASE_URL"]
        assert token_claims["aud"] == "portal-api"
    assert access["sub"] == refresh_claims["sub"] == str(user.id)
    assert access["sid"] == refresh_claims["sid"]
    assert access["type"] == "access" and refresh_claims["type"] == "refresh"
    assert access["email"] == "alice@example.com"
    assert access["exp"] - access["iat"] == 30 * 60
    assert refresh_claims["exp"] - refresh_claims["iat"] == pytest.approx(7 * 24 * 3600, abs=2)
    assert session_of(tokens["access_token"]).refresh_jti == refresh_claims["jti"]


def test_me_runs_one_sql_statement(api, tokens, count_queries):
    with count_queries() as statements:
        response = api.get("/users/me", token=tokens["access_token"])
    assert response.status_code == 200
    assert len(statements) == 1, statements
    assert "JOIN users" in statements[0] and "sessions" in statements[0]


def test_refresh_rotates(api, tokens):
    response = refresh(api, tokens["refresh_token"])
    assert response.status_code == 200
    new = response.get_json()
    assert set(new) == TOKEN_FIELDS
    assert new["device_token"] is None  # only a sign-in hands one out
    old_jti, new_jti = claims(tokens["refresh_token"])["jti"], claims(new["refresh_token"])["jti"]
    assert old_jti != new_jti
    session = session_of(new["refresh_token"])
    assert session.refresh_jti == new_jti
    assert session.previous_refresh_jti == old_jti
    assert session.refreshed_at is not None
    assert claims(new["refresh_token"])["sid"] == claims(tokens["refresh_token"])["sid"]
    assert api.get("/users/me", token=new["access_token"]).status_code == 200


def test_previous_refresh_token_within_grace_gets_the_current_pair(api, tokens, outbox):
    first = refresh(api, tokens["refresh_token"]).get_json()
    clock.advance(timedelta(seconds=9))
    again = refresh(api, tokens["refresh_token"])
    assert again.status_code == 200
    again = again.get_json()
    assert claims(again["refresh_token"])["jti"] == claims(first["refresh_token"])["jti"]
    session = session_of(first["refresh_token"])
    assert session.refresh_jti == claims(first["refresh_token"])["jti"]  # no second rotation
    assert session.is_active
    assert outbox == []
    # both answers work: the current token still rotates normally
    assert refresh(api, again["refresh_token"]).status_code == 200


def test_previous_refresh_token_after_grace_is_reuse(api, user, tokens, outbox):
    first = refresh(api, tokens["refresh_token"]).get_json()
    clock.advance(timedelta(seconds=11))
    response = refresh(api, tokens["refresh_token"])
    assert_problem(response, 401, "session_ended")
    session = session_of(first["refresh_token"])
    assert session.revoked_at is not None
    assert session.revoked_reason == "Refresh token reused"
    event = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == "refresh_token_reused")
    )
    assert event.user_id == user.id and event.session_id == session.id
    assert [m["kind"] for m in outbox] == ["token_reuse_alert"]
    assert outbox[0]["to"] == ["alice@example.com"]
    assert "alice" in outbox[0]["text"]
    # the thief's (or the owner's) newer tokens die with the session
    assert_problem(api.get("/users/me", token=first["access_token"]), 401, "session_ended")
    assert_problem(refresh(api, first["refresh_token"]), 401, "session_ended")


def test_older_refresh_token_is_reuse_even_within_grace(api, tokens, outbox):
    first = refresh(api, tokens["refresh_token"]).get_json()
    refresh(api, first["refresh_token"])
    assert_problem(refresh(api, tokens["refresh_token"]), 401, "session_ended")
    assert [m["kind"] for m in outbox] == ["token_reuse_alert"]


def test_access_token_cannot_refresh(api, tokens):
    assert_problem(refresh(api, tokens["access_token"]), 401, "invalid_token")
    assert session_of(tokens["access_token"]).is_active


def test_refresh_token_is_not_an_access_token(api, tokens):
    assert_problem(api.get("/users/me", token=tokens["refresh_token"]), 401, "invalid_token")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged(app, payload: dict, *, key=None, algorithm="HS256") -> str:
    return jwt.encode(payload, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm)


def test_alg_none_is_refused(api, tokens):
    payload = claims(tokens["access_token"])
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(payload) + "."
    assert_problem(api.get("/users/me", token=token), 401, "invalid_token")
    refresh_payload = claims(tokens["refresh_token"])
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(refresh_payload) + "."
    assert_problem(refresh(api, token), 401, "invalid_token")


def test_tampered_signature_and_payload_are_refused(api, make_user, tokens):
    header, payload, signature = tokens["access_token"].split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert_problem(api.get("/users/me", token=f"{header}.{payload}.{flipped}"), 401)
    other = make_user()
    changed = _b64({**claims(tokens["access_token"]), "sub": str(other.id)})
    assert_problem(api.get("/users/me", token=f"{header}.{changed}.{signature}"), 401)


def test_other_keys_and_algorithms_are_refused(app, api, tokens):
    payload = claims(tokens["access_token"])
    wrong_key = forged(app, payload, key="another-key-that-is-long-enough-0123456789")
    assert_problem(api.get("/users/me", token=wrong_key), 401, "invalid_token")
    hs512 = forged(app, payload, algorithm="HS512")
    assert_problem(api.get("/users/me", token=hs512), 401, "invalid_token")


def test_signed_token_for_someone_else_or_without_session_is_refused(app, api, make_user, tokens):
    payload = claims(tokens["access_token"])
    other = make_user()
    # even with the signing key, the session must belong to `sub`
    assert_problem(api.get("/users/me", token=forged(app, {**payload, "sub": str(other.id)})), 401)
    no_sid = {k: v for k, v in payload.items() if k != "sid"}
    assert_problem(api.get("/users/me", token=forged(app, no_sid)), 401)
    bad_sid = {**payload, "sid": "not-a-uuid"}
    assert_problem(api.get("/users/me", token=forged(app, bad_sid)), 401)


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "Bearer a.b.c", "Bearer x y", "Token abc"],
)
def test_bad_authorization_headers(api, header):
    response = api.get("/users/me", headers={"Authorization": header} if header else {})
    assert_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token(api, tokens):
    clock.advance(timedelta(minutes=31))
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "token_expired")
    fresh = refresh(api, tokens["refresh_token"])
    assert fresh.status_code == 200
    assert api.get("/users/me", token=fresh.get_json()["access_token"]).status_code == 200


def test_expired_refresh_token(api, tokens):
    clock.advance(timedelta(days=7, minutes=1))
    assert_problem(refresh(api, tokens["refresh_token"]), 401, "token_expired")


def test_refreshing_keeps_the_session_alive(api, tokens):
    clock.advance(timedelta(days=6))
    new = refresh(api, tokens["refresh_token"]).get_json()
    clock.advance(timedelta(days=6))
    assert refresh(api, new["refresh_token"]).status_code == 200


def test_tokens_of_a_disabled_user_stop_working(api, user, tokens):
    user.is_active = False
    db.session.commit()
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")
    assert_problem(refresh(api, tokens["refresh_token"]), 401, "session_ended")


def test_tokens_of_a_deleted_user_stop_working(api, user, tokens):
    db.session.delete(user)
    db.session.commit()
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401)
    assert_problem(refresh(api, tokens["refresh_token"]), 401)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 4096])
def test_refresh_with_garbage(api, token):
    response = refresh(api, token)
    assert response.status_code in (401, 422)
    assert response.mimetype == "application/problem+json"


def test_web_session_ids_cannot_be_refreshed(app, api, auth, user):
    web = db.session.scalar(select(UserSession).where(UserSession.kind == "web"))
    token = forged(
        app,
        {
            "sub": str(user.id),
            "sid": str(web.id),
            "jti": "x",
            "type": "refresh",
            "iat": 1,
            "exp": 4_000_000_000,
        },
    )
    assert_problem(refresh(api, token), 401)


def test_every_flask_jwt_extended_error_is_a_401_problem(app):
    """Some default to 422 or 400; the API answers all of them as 401 problem+json."""
    from portal.extensions import jwt as manager

    with app.test_request_context("/api/v1/users/me"):
        answers = [
            manager._unauthorized_callback("Missing Authorization Header"),
            manager._invalid_token_callback("Signature verification failed"),
            manager._expired_token_callback({}, {"type": "access"}),
            manager._revoked_token_callback({}, {}),
            manager._needs_fresh_token_callback({}, {}),
            manager._token_verification_failed_callback({}, {}),
            manager._user_lookup_error_callback({}, {}),
        ]
    for response in answers:
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] in ("invalid_token", "token_expired", "session_ended")
