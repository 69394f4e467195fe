"""Tokens name their issuer (PORTAL_BASE_URL) and audience (portal-api), checked on every
request; tokens signed before the claims existed keep working until they expire
(README "Rules worth knowing")."""

from datetime import timedelta

import jwt
import pytest
from api_helpers import assert_problem
from web_helpers import PASSWORD

from portal import clock

ISSUER = "http://portal.test"  # PORTAL_BASE_URL in tests
AUDIENCE = "portal-api"


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def resign(app, token: str, **changes) -> str:
    """The same token signed with the portal's key, claims changed (None drops one): what a
    token from before this change, or one minted for another service with a shared key,
    looks like."""
    payload = {**claims(token), **changes}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, app.config["JWT_SECRET_KEY"], algorithm="HS256")


def refresh(api, token):
    return api.post("/auth/refresh", {"refresh_token": token})


def test_tokens_carry_issuer_and_audience(tokens):
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert claims(token)["iss"] == ISSUER
        assert claims(token)["aud"] == AUDIENCE


def test_refreshed_tokens_carry_them_too(api, tokens):
    new = refresh(api, tokens["refresh_token"]).get_json()

    assert claims(new["access_token"])["iss"] == ISSUER
    assert claims(new["refresh_token"])["aud"] == AUDIENCE


def test_the_issuer_follows_portal_base_url(make_app, user):
    other = make_app(PORTAL_BASE_URL="https://accounts.example.com/")
    response = other.test_client().post(
        "/api/v1/auth/login", json={"email": "alice", "password": PASSWORD}
    )

    assert claims(response.get_json()["access_token"])["iss"] == "https://accounts.example.com"


def test_a_token_from_before_the_change_is_accepted(app, api, tokens):
    legacy_access = resign(app, tokens["access_token"], iss=None, aud=None)
    legacy_refresh = resign(app, tokens["refresh_token"], iss=None, aud=None)
    assert {"iss", "aud"}.isdisjoint(claims(legacy_access))

    assert api.get("/users/me", token=legacy_access).status_code == 200
    response = refresh(api, legacy_refresh)

    assert response.status_code == 200
    assert claims(response.get_json()["access_token"])["aud"] == AUDIENCE  # new ones carry it


def test_a_token_from_before_the_change_still_expires(app, api, tokens):
    legacy_access = resign(app, tokens["access_token"], iss=None, aud=None)
    clock.advance(timedelta(minutes=31))

    assert_problem(api.get("/users/me", token=legacy_access), 401, "token_expired")


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example"},
        {"iss": "http://portal.test/"},  # not the exact issuer
        {"aud": "another-service"},
        {"aud": ["another-service"]},
        {"aud": [AUDIENCE, "another-service"]},
        {"iss": "https://evil.example", "aud": None},
        {"iss": None, "aud": "another-service"},
        {"iss": ""},
    ],
)
def test_a_wrong_issuer_or_audience_is_refused(app, api, tokens, changes):
    wrong_access = resign(app, tokens["access_token"], **changes)
    wrong_refresh = resign(app, tokens["refresh_token"], **changes)

    assert_problem(api.get("/users/me", token=wrong_access), 401, "invalid_token")
    assert_problem(refresh(api, wrong_refresh), 401, "invalid_token")
    # The real refresh token was not spent by the refused one.
    assert refresh(api, tokens["refresh_token"]).status_code == 200


def test_a_wrong_issuer_is_refused_even_when_expired(app, api, tokens):
    wrong = resign(app, tokens["access_token"], iss="https://evil.example")
    clock.advance(timedelta(minutes=31))

    assert_problem(api.get("/users/me", token=wrong), 401, "invalid_token")


def test_a_token_signed_with_another_key_is_still_refused(api, tokens):
    forged = jwt.encode(claims(tokens["access_token"]), "k" * 64, algorithm="HS256")

    assert_problem(api.get("/users/me", token=forged), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["sub", "exp", "type"])
def test_an_access_token_without_a_required_claim_is_refused(app, api, tokens, claim):
    stripped = resign(app, tokens["access_token"], **{claim: None})

    assert_problem(api.get("/users/me", token=stripped), 401, "invalid_token")


def test_a_bearer_token_is_found_beside_another_scheme(api, tokens):
    header = f"Basic YWxpY2U6c2VjcmV0, Bearer {tokens['access_token']}"

    assert api.get("/users/me", headers={"Authorization": header}).status_code == 200
