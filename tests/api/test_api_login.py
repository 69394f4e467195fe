"""POST /auth/login, /auth/logout, /auth/logout/all."""

import pytest
from api_helpers import TOKEN_FIELDS, assert_problem
from sqlalchemy import select
from web_helpers import PASSWORD

from portal.extensions import db
from portal.models import SecurityEvent, UserSession


@pytest.mark.parametrize("login", ["alice@example.com", "ALICE@Example.com", "alice", "Alice"])
def test_login_by_email_or_username(api, user, login):
    response = api.post("/auth/login", {"email": login, "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TOKEN_FIELDS
    assert body["device_token"]  # this app is a known device of the account from now on
    assert body["user"]["id"] == str(user.id)
    assert body["user"]["email"] == "alice@example.com"


def test_login_creates_an_api_session_with_the_device(api, user):
    api.login()
    session = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert session.kind == "api"
    assert session.refresh_jti
    assert session.ip_address == "127.0.0.1"
    assert session.device_label


@pytest.mark.parametrize(
    "body",
    [
        {"email": "alice@example.com", "password": "wrong password here"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "nobody", "password": "whatever"},
    ],
)
def test_wrong_credentials_get_one_answer(api, user, body):
    problem = assert_problem(api.post("/auth/login", body), 401, "invalid_credentials")
    assert problem["detail"] == "That email, username or password is not right."


def test_disabled_account_cannot_sign_in(api, make_user):
    make_user(email="dis@example.com", username="dis", active=False)
    response = api.post("/auth/login", {"email": "dis", "password": PASSWORD})
    assert_problem(response, 403, "account_disabled")


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "alice"}, {"password": PASSWORD}, {"email": "", "password": ""}],
)
def test_login_validation(api, user, body):
    problem = assert_problem(api.post("/auth/login", body), 422, "validation_error")
    assert problem["errors"]


def test_logout_ends_this_session_only(api, user, tokens):
    other = api.login()
    assert api.post("/auth/logout", token=tokens["access_token"]).status_code == 204
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")
    response = api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert_problem(response, 401, "session_ended")
    assert api.get("/users/me", token=other["access_token"]).status_code == 200
    kinds = db.session.scalars(select(SecurityEvent.kind)).all()
    assert "signed_out" in kinds


def test_logout_all_ends_every_session_web_ones_too(api, auth, tokens):
    other = api.login()
    assert api.post("/auth/logout/all", token=tokens["access_token"]).status_code == 204
    for pair in (tokens, other):
        assert_problem(api.get("/users/me", token=pair["access_token"]), 401, "session_ended")
    # the browser signed in by `auth` is signed out too
    assert auth.get("/sessions").status_code in (302, 303)


def test_logout_needs_a_token(api):
    assert_problem(api.post("/auth/logout"), 401, "invalid_token")
    assert_problem(api.post("/auth/logout/all"), 401, "invalid_token")
