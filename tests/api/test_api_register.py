"""POST /auth/register, /auth/verify, /auth/verify/resend."""

from datetime import timedelta

import pytest
from api_helpers import TOKEN_FIELDS, assert_problem
from sqlalchemy import select
from web_helpers import PASSWORD, last_code

from portal import clock
from portal.extensions import db
from portal.models import PendingSignUp, User, UserSession

NEW = {"email": "Bob@Example.com", "username": "bob", "password": "purple elephant paints"}


def register(api, **changes):
    return api.post("/auth/register", {**NEW, **changes})


def account(email="bob@example.com") -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def test_register_emails_a_code_and_verify_signs_in(api, outbox):
    response = register(api)
    assert response.status_code == 202
    assert "detail" in response.get_json()
    # a pending sign-up, not an account yet
    assert account() is None
    pending = db.session.scalar(
        select(PendingSignUp).where(PendingSignUp.email == "bob@example.com")
    )
    assert pending.username == "bob"
    assert [m["kind"] for m in outbox] == ["verify_email"]
    # the email names the sign-up it confirms: username and device
    assert '"bob"' in outbox[0]["text"] and pending.device_label in outbox[0]["text"]

    response = api.post("/auth/verify", {"email": "bob@example.com", "code": last_code(outbox)})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == TOKEN_FIELDS and body["device_token"]
    user = account()
    assert user is not None and user.is_verified
    assert db.session.scalar(select(PendingSignUp)) is None
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
        "mfa": {"totp": False, "passkeys": 0, "recovery_codes_left": 0},
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
    assert account() is None  # not even "verified" makes it an account before its code
    response = api.post("/auth/verify", {"email": NEW["email"], "code": last_code(outbox)})
    assert response.status_code == 200
    user = account()
    assert not user.is_admin and user.is_active


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


def verify(api, code, **extra):
    return api.post("/auth/verify", {"email": NEW["email"], "code": code, **extra})


def test_verify_wrong_code_with_the_password_counts_tries_then_burns(api, outbox):
    """With the sign-up's password the caller proved who they are: detailed answers."""
    register(api)
    code = last_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    password = NEW["password"]
    for left in (4, 3, 2, 1):
        body = assert_problem(verify(api, wrong, password=password), 400, "invalid_code")
        assert f"{left} tr" in body["detail"]
    assert_problem(verify(api, wrong, password=password), 400, "code_used_up")
    assert_problem(verify(api, code, password=password), 400, "code_used_up")
    assert account() is None


def test_verify_wrong_code_without_the_password_reads_the_same_and_burns_nothing(api, outbox):
    """Without the password anyone could be guessing: one answer, and the owner's code lives."""
    register(api)
    code = last_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    details = {assert_problem(verify(api, wrong), 400, "invalid_code")["detail"] for _ in range(6)}
    assert len(details) == 1
    assert verify(api, code).status_code == 200


def test_verify_expired_code(api, outbox):
    register(api)
    clock.advance(timedelta(minutes=16))
    code = last_code(outbox)
    assert_problem(verify(api, code, password=NEW["password"]), 400, "code_expired")
    # without the password: the one answer for every failure
    assert_problem(verify(api, code), 400, "invalid_code")


def test_verify_unknown_email_is_invalid_code(api):
    response = api.post("/auth/verify", {"email": "nobody@example.com", "code": "123456"})
    assert_problem(response, 400, "invalid_code")


def test_verify_validation(api):
    body = assert_problem(api.post("/auth/verify", {"email": "a@example.com"}), 422)
    assert "code" in body["errors"]


def test_resend_sends_a_new_code_at_most_once_a_minute(api, outbox, distinct_codes):
    register(api)
    first = last_code(outbox)
    assert api.post("/auth/verify/resend", {"email": NEW["email"]}).status_code == 202
    assert len(outbox) == 1  # too soon
    clock.advance(timedelta(minutes=1, seconds=1))
    assert api.post("/auth/verify/resend", {"email": NEW["email"]}).status_code == 202
    assert len(outbox) == 2
    second = last_code(outbox)
    assert second != first
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


@pytest.mark.parametrize("login", ["carol@example.com", "carol"])
def test_login_of_a_pending_sign_up_is_403_and_sends_a_fresh_code(
    api, outbox, login, distinct_codes
):
    register(api, email="carol@example.com", username="carol", password=PASSWORD)
    first = last_code(outbox)
    clock.advance(timedelta(minutes=1, seconds=1))  # a fresh code at most once a minute
    response = api.post("/auth/login", {"email": login, "password": PASSWORD})
    assert_problem(response, 403, "email_not_verified")
    assert [m["kind"] for m in outbox] == ["verify_email", "verify_email"]
    fresh = last_code(outbox)
    assert fresh != first
    assert_problem(
        api.post("/auth/verify", {"email": "carol@example.com", "code": first}),
        400,
        "invalid_code",
    )
    response = api.post("/auth/verify", {"email": "carol@example.com", "code": fresh})
    assert response.status_code == 200


def test_login_of_a_pending_sign_up_with_a_wrong_password_is_like_any_wrong_password(api, outbox):
    register(api, email="carol@example.com", username="carol", password=PASSWORD)
    for login in ("carol@example.com", "carol"):
        response = api.post("/auth/login", {"email": login, "password": "not the password"})
        assert_problem(response, 401, "invalid_credentials")
    assert [m["kind"] for m in outbox] == ["verify_email"]  # no code for a wrong password
