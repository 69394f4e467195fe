"""POST /auth/forgot-password and /auth/reset-password."""

import re
from datetime import timedelta

from api_helpers import assert_problem
from web_helpers import NEW_PASSWORD, PASSWORD

from portal import clock


def reset_token(outbox) -> str:
    message = [m for m in outbox if m["kind"] == "reset_password"][-1]
    return re.search(r"/reset/([A-Za-z0-9_\-]+)", message["text"]).group(1)


def test_forgot_password_always_answers_202(api, user, outbox):
    for email in ("alice@example.com", "nobody@example.com"):
        response = api.post("/auth/forgot-password", {"email": email})
        assert response.status_code == 202
        assert response.get_json() == {
            "detail": "If that address has an account, a reset link is on its way."
        }
    assert [m["kind"] for m in outbox] == ["reset_password"]
    assert outbox[0]["to"] == ["alice@example.com"]


def test_forgot_password_validation(api):
    assert_problem(api.post("/auth/forgot-password", {"email": "x"}), 422, "validation_error")
    assert_problem(api.post("/auth/forgot-password", {}), 422, "validation_error")


def test_reset_sets_the_password_and_ends_every_session(api, user, tokens, outbox):
    api.post("/auth/forgot-password", {"email": "alice@example.com"})
    token = reset_token(outbox)
    response = api.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")
    assert "password_changed" in [m["kind"] for m in outbox]
    assert_problem(
        api.post("/auth/login", {"email": "alice", "password": PASSWORD}),
        401,
        "invalid_credentials",
    )
    assert api.post("/auth/login", {"email": "alice", "password": NEW_PASSWORD}).status_code == 200
    # single use
    response = api.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD + "!"})
    assert_problem(response, 400, "invalid_reset_token")


def test_reset_with_a_bad_or_expired_token(api, user, outbox):
    response = api.post("/auth/reset-password", {"token": "x" * 43, "password": NEW_PASSWORD})
    assert_problem(response, 400, "invalid_reset_token")
    api.post("/auth/forgot-password", {"email": "alice@example.com"})
    clock.advance(timedelta(minutes=31))
    response = api.post(
        "/auth/reset-password", {"token": reset_token(outbox), "password": NEW_PASSWORD}
    )
    assert_problem(response, 400, "invalid_reset_token")


def test_reset_with_a_weak_password_is_422(api, user, outbox):
    api.post("/auth/forgot-password", {"email": "alice@example.com"})
    response = api.post(
        "/auth/reset-password", {"token": reset_token(outbox), "password": "password1"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert "password" in body["errors"]
