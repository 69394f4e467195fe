"""POST /auth/register, /auth/verify, /auth/verify/resend."""

from datetime import timedelta

import pytest
from api_helpers import PASSWORD, assert_problem, last_code
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.models import User, UserSession

NEW = {"email": "Bob@Example.com", "username": "bob", "password": "purple elephant paints"}


def register(api, **changes):
    return api.post("/auth/register", {**NEW, **changes})


def test_register_emails_a_code_and_verify_signs_in(api, outbox):
    response = register(api)
    assert response.status_code == 202
    assert "detail" in response.get_json()
    user = db.session.scalar(select(User).where(User.email == "bob@example.com"))
    assert user is not None and not user.is_verified
    assert [m["kind"] for m in outbox] == ["verify_email"]

    response = api.post("/auth/verify", {"email": "bob@example.com", "code": last_code(outbox)})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 30 * 60
    assert body["access_token"] and body["refresh_token"]
    assert body["user"] == {
        "id": str(user.id),
        "email": "bob@example.com",
        "username": "bob",
        "is_verified": True,
        "is_admin": False,
        "created_at": body["user"]["created_at"],
        "pending_email": None,
    }
    session = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert session.kind == "api" and session.refresh_jti
    assert session.device_label != "Unknown device"

    me = api.get("/users/me", token=body["access_token"])
    assert me.status_code == 200 and me.get_json()["username"] == "bob"


def test_register_with_taken_email_answers_the_same_and_mails_the_owner(api, user, outbox):
    response = register(api, email="ALICE@example.com", username="someone")
    assert response.status_code == 202
    assert [m["kind"] for m in outbox] == ["account_exists"]
    assert outbox[0]["to"] == ["alice@example.com"]


def test_register_with_taken_username_is_409(api, user):
    body = assert_problem(register(api, username="Alice"), 409, "username_taken")
    assert "errors" not in body


def test_admin_fields_in_register_change_nothing(api, outbox):
    register(api, is_admin=True, is_verified=True, is_active=False)
    user = db.session.scalar(select(User).where(User.email == "bob@example.com"))
    assert not user.is_admin and not user.is_verified and user.is_active


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"username": "x"}, "username"),
        ({"username": "has space"}, "username"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"email": None}, "email"),
        ({"email": 42}, "email"),
        ({"username": ["bob"]}, "username"),
        ({"password": {"a": 1}}, "password"),
        ({"username": "bob\x00"}, "username"),
        ({"email": "a" * 100_00 + "@example.com"}, "email"),
    ],
)
def test_register_validation(api, changes, field):
    body = assert_problem(register(api, **changes), 422, "validation_error")
    assert field in body["errors"], body


def test_register_missing_fields(api):
    body = assert_problem(api.post("/auth/register", {}), 422, "validation_error")
    assert set(body["errors"]) == {"email", "username", "password"}


def test_verify_wrong_code_counts_tries_then_burns(api, outbox):
    register(api)
    code = last_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert_problem(
            api.post("/auth/verify", {"email": NEW["email"], "code": wrong}), 400, "invalid_code"
        )
    assert_problem(
        api.post("/auth/verify", {"email": NEW["email"], "code": wrong}), 400, "code_used_up"
    )
    assert_problem(
        api.post("/auth/verify", {"email": NEW["email"], "code": code}), 400, "code_used_up"
    )


def test_verify_expired_code(api, outbox):
    register(api)
    clock.advance(timedelta(minutes=16))
    response = api.post("/auth/verify", {"email": NEW["email"], "code": last_code(outbox)})
    assert_problem(response, 400, "code_expired")


def test_verify_unknown_email_is_invalid_code(api):
    response = api.post("/auth/verify", {"email": "nobody@example.com", "code": "123456"})
    assert_problem(response, 400, "invalid_code")


def test_verify_validation(api):
    body = assert_problem(api.post("/auth/verify", {"email": "a@example.com"}), 422)
    assert "code" in body["errors"]


def test_resend_sends_a_new_code_at_most_once_a_minute(api, outbox):
    register(api)
    first = last_code(outbox)
    assert api.post("/auth/verify/resend", {"email": NEW["email"]}).status_code == 202
    assert len(outbox) == 1  # too soon
    clock.advance(timedelta(minutes=1, seconds=1))
    assert api.post("/auth/verify/resend", {"email": NEW["email"]}).status_code == 202
    assert len(outbox) == 2
    second = last_code(outbox)
    if first != second:
        assert_problem(
            api.post("/auth/verify", {"email": NEW["email"], "code": first}), 400, "invalid_code"
        )
    assert api.post("/auth/verify", {"email": NEW["email"], "code": second}).status_code == 200


def test_resend_for_unknown_or_verified_address_answers_the_same(api, user, outbox):
    assert api.post("/auth/verify/resend", {"email": "nobody@example.com"}).status_code == 202
    assert api.post("/auth/verify/resend", {"email": user.email}).status_code == 202
    assert outbox == []


def test_resend_validation(api):
    assert_problem(api.post("/auth/verify/resend", {"email": "nope"}), 422, "validation_error")


def test_login_of_unverified_account_is_403_and_sends_a_code(api, make_user, outbox):
    make_user(email="carol@example.com", username="carol", verified=False)
    response = api.post("/auth/login", {"email": "carol", "password": PASSWORD})
    assert_problem(response, 403, "email_not_verified")
    assert [m["kind"] for m in outbox] == ["verify_email"]
