"""GET/PATCH/PUT/DELETE /users/me, POST /users/me/email/confirm, POST /users/me/password."""

import pytest
from api_helpers import assert_problem
from sqlalchemy import func, select
from web_helpers import NEW_PASSWORD, PASSWORD, deliver_held_mail, kinds_sent, last_code

from portal.extensions import db
from portal.models import OneTimeCode, PendingSignUp, SecurityEvent, User, UserSession


def test_me(api, user, tokens):
    response = api.get("/users/me", token=tokens["access_token"])
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["id"] == str(user.id)
    assert set(body) == {
        "id",
        "email",
        "username",
        "is_verified",
        "is_admin",
        "created_at",
        "pending_email",
        "mfa",
    }
    assert body["mfa"] == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    assert response.headers["Cache-Control"] == "no-store"


def test_me_needs_a_token(api):
    assert_problem(api.get("/users/me"), 401, "invalid_token")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_change_username(api, tokens, method):
    response = api.request(
        method, "/users/me", {"username": "Alicia"}, token=tokens["access_token"]
    )
    assert response.status_code == 200
    assert response.get_json()["username"] == "alicia"
    assert api.get("/users/me", token=tokens["access_token"]).get_json()["username"] == "alicia"


def test_change_username_to_a_taken_one_is_409(api, make_user, tokens):
    make_user(username="bob")
    response = api.patch("/users/me", {"username": "BOB"}, token=tokens["access_token"])
    assert_problem(response, 409, "username_taken")


@pytest.mark.parametrize(
    "body", [{"username": "x"}, {"username": 5}, {"email": "nope"}, {"email": ""}]
)
def test_profile_validation(api, tokens, body):
    problem = assert_problem(api.patch("/users/me", body, token=tokens["access_token"]), 422)
    assert problem["errors"]


def me(api, tokens) -> dict:
    return api.get("/users/me", token=tokens["access_token"]).get_json()


def email_change_codes() -> int:
    return db.session.scalar(
        select(func.count()).select_from(OneTimeCode).where(OneTimeCode.purpose == "email_change")
    )


def test_bad_email_changes_nothing(api, tokens, outbox):
    outbox.clear()
    response = api.patch(
        "/users/me",
        {"username": "newname", "email": "nope", "password": PASSWORD},
        token=tokens["access_token"],
    )
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]) == {"email"}
    assert me(api, tokens)["username"] == "alice"
    assert outbox == [] and email_change_codes() == 0


def test_taken_username_with_a_new_email_changes_nothing(api, make_user, tokens, outbox):
    make_user(username="bob")
    outbox.clear()
    response = api.patch(
        "/users/me",
        {"username": "bob", "email": "alice.new@example.com", "password": PASSWORD},
        token=tokens["access_token"],
    )
    assert_problem(response, 409, "username_taken")
    body = me(api, tokens)
    assert body["username"] == "alice" and body["pending_email"] is None
    assert outbox == [] and email_change_codes() == 0


def test_taken_username_and_a_bad_email_are_both_reported(api, make_user, tokens):
    make_user(username="bob")
    response = api.patch(
        "/users/me", {"username": "Bob", "email": "nope"}, token=tokens["access_token"]
    )
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]) == {"username", "email"}
    assert "taken" in problem["errors"]["username"][0]


def test_username_held_by_a_pending_sign_up_is_taken(api, tokens):
    assert api.post(
        "/auth/register",
        {"email": "carol@example.com", "username": "carol", "password": NEW_PASSWORD},
    ).status_code in (201, 202)
    assert db.session.scalar(select(PendingSignUp.id).where(PendingSignUp.username == "carol"))
    response = api.patch("/users/me", {"username": "carol"}, token=tokens["access_token"])
    assert_problem(response, 409, "username_taken")
    assert me(api, tokens)["username"] == "alice"


@pytest.mark.parametrize(
    ("password", "field"), [("not my password", "password"), (None, "password")]
)
def test_username_and_email_with_a_wrong_password_change_nothing(
    api, tokens, outbox, password, field
):
    outbox.clear()
    body = {"username": "newname", "email": "alice.new@example.com"}
    if password is not None:
        body["password"] = password
    problem = assert_problem(
        api.patch("/users/me", body, token=tokens["access_token"]), 422, "validation_error"
    )
    assert field in problem["errors"]
    after = me(api, tokens)
    assert after["username"] == "alice" and after["pending_email"] is None
    assert outbox == [] and email_change_codes() == 0
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.kind == "username_changed")
        )
        == 0
    )


def test_username_and_email_change_together(api, tokens, outbox):
    response = api.patch(
        "/users/me",
        {"username": "Alicia", "email": "Alicia@Example.org", "password": PASSWORD},
        token=tokens["access_token"],
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "alicia" and body["pending_email"] == "alicia@example.org"
    assert body["email"] == "alice@example.com"
    assert outbox[-1]["kind"] == "email_change" and outbox[-1]["to"] == ["alicia@example.org"]
    kinds = db.session.scalars(select(SecurityEvent.kind)).all()
    assert {"username_changed", "email_change_requested"} <= set(kinds)


def test_email_codes_cap_leaves_the_username_unchanged(api, tokens, outbox):
    for n in range(5):  # the hourly allowance, each to its own address
        body = {"email": f"new{n}@example.com", "password": PASSWORD}
        assert api.patch("/users/me", body, token=tokens["access_token"]).status_code == 200
    outbox.clear()
    response = api.patch(
        "/users/me",
        {"username": "newname", "email": "new5@example.com", "password": PASSWORD},
        token=tokens["access_token"],
    )
    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    body = me(api, tokens)
    assert body["username"] == "alice" and body["pending_email"] == "new4@example.com"
    assert outbox == []
    # A rename alone is not an email change: still allowed.
    response = api.patch("/users/me", {"username": "newname"}, token=tokens["access_token"])
    assert response.status_code == 200 and response.get_json()["username"] == "newname"


@pytest.mark.parametrize(
    "email",
    [
        "ALICE@example.com",
        "  alice@Example.COM\t",
        "Alice@EXAMPLE.com",
        "alice@\uff45xample.com",  # a full-width "e": the same domain once normalised
    ],
)
def test_the_current_email_in_another_case_is_no_change(api, tokens, outbox, email):
    outbox.clear()
    response = api.patch(
        "/users/me", {"username": "newname", "email": email}, token=tokens["access_token"]
    )
    assert response.status_code == 200  # no password asked: the email does not change
    body = response.get_json()
    assert body["username"] == "newname"
    assert body["email"] == "alice@example.com" and body["pending_email"] is None
    assert outbox == [] and email_change_codes() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"username": ""},
        {"username": "   "},
        {"username": "x" * 10_000},
        {"username": "ünïcødé"},
        {"username": "名前です"},
        {"username": 5},
        {"username": ["alice"]},
        {"username": {"a": 1}},
        {"username": True},
        {"username": "ali\x00ce"},
        {"username": "\ud800abc"},
        {"email": ""},
        {"email": "   "},
        {"email": "x" * 10_000},
        {"email": "x" * 250 + "@example.com"},
        {"email": "üñï@"},
        {"email": "a@b@c"},
        {"email": 5},
        {"email": ["alice@example.com"]},
        {"email": "alice@example.com\x00"},
        {"email": "new@example.com", "password": 12345},
        {"email": "new@example.com", "password": "x" * 10_000},
        {"email": "new@example.com", "password": PASSWORD, "code": 123456},
        {"email": "new@example.com", "password": PASSWORD, "code": "9" * 10_000},
        {"email": "ünïcødé@exämple.com"},  # a valid address: the password is then missing
        {"username": "x", "email": "nope"},
    ],
)
def test_bad_profile_input_is_422_never_500(api, tokens, outbox, body):
    outbox.clear()
    problem = assert_problem(
        api.patch("/users/me", body, token=tokens["access_token"]), 422, "validation_error"
    )
    assert problem["errors"]
    after = me(api, tokens)
    assert after["username"] == "alice" and after["pending_email"] is None
    assert outbox == []


def test_admin_fields_change_nothing(api, user, tokens):
    body = {"is_admin": True, "is_verified": False, "is_active": False, "id": "x"}
    response = api.patch("/users/me", body, token=tokens["access_token"])
    assert response.status_code == 200
    db.session.expire_all()
    assert not user.is_admin and user.is_verified and user.is_active


@pytest.mark.parametrize("body", [{}, {"username": None, "email": None}])
def test_empty_patch_changes_nothing(api, tokens, body):
    response = api.patch("/users/me", body, token=tokens["access_token"])
    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"
    assert response.get_json()["email"] == "alice@example.com"


def test_change_email_is_pending_until_confirmed(api, tokens, outbox):
    response = api.patch(
        "/users/me",
        {"email": "New@Example.com", "password": PASSWORD},
        token=tokens["access_token"],
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "alice@example.com"
    assert body["pending_email"] == "new@example.com"
    assert outbox[-1]["kind"] == "email_change" and outbox[-1]["to"] == ["new@example.com"]

    assert_problem(
        api.post("/users/me/email/confirm", {"code": "12345x"}, token=tokens["access_token"]),
        400,
        "invalid_code",
    )
    code = last_code(outbox, "email_change")
    response = api.post("/users/me/email/confirm", {"code": code}, token=tokens["access_token"])
    assert response.status_code == 200
    assert response.get_json()["email"] == "new@example.com"
    assert response.get_json()["pending_email"] is None
    # the old access token keeps working (its session did not end)
    assert api.get("/users/me", token=tokens["access_token"]).get_json()["email"] == (
        "new@example.com"
    )


def test_change_email_to_a_taken_address_tells_the_owner_only(api, make_user, tokens, outbox):
    make_user(email="bob@example.com", username="bob")
    outbox.clear()  # alice's "new sign-in" notice
    response = api.patch(
        "/users/me",
        {"email": "bob@example.com", "password": PASSWORD},
        token=tokens["access_token"],
    )
    assert response.status_code == 200
    assert response.get_json()["pending_email"] == "bob@example.com"  # as for a free address
    assert [m["kind"] for m in outbox] == ["account_exists"]
    assert outbox[0]["to"] == ["bob@example.com"]


def test_confirm_without_a_pending_change(api, tokens):
    response = api.post("/users/me/email/confirm", {"code": "123456"}, token=tokens["access_token"])
    assert_problem(response, 400, "invalid_code")


def test_change_password_keeps_this_session_and_ends_others(api, auth, tokens, outbox):
    other = api.login()
    response = api.post(
        "/users/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=tokens["access_token"],
    )
    assert response.status_code == 204
    assert api.get("/users/me", token=tokens["access_token"]).status_code == 200
    assert_problem(api.get("/users/me", token=other["access_token"]), 401, "session_ended")
    assert auth.get("/sessions").status_code in (302, 303)
    deliver_held_mail()  # the sign-in notice went out minutes ago: this one waits
    assert "password_changed" in kinds_sent(outbox)
    assert api.post("/auth/login", {"email": "alice", "password": NEW_PASSWORD}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": "wrong one!", "new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD, "new_password": "password1"}, "new_password"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password"),
        ({"current_password": PASSWORD}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "current_password"),
    ],
)
def test_change_password_validation(api, tokens, body, field):
    response = api.post("/users/me/password", body, token=tokens["access_token"])
    problem = assert_problem(response, 422, "validation_error")
    assert field in problem["errors"]


def test_delete_account(api, user, tokens, outbox):
    user_id = user.id
    response = api.delete("/users/me", {"password": PASSWORD}, token=tokens["access_token"])
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == user_id)) is None
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")
    assert "account_deleted" in [m["kind"] for m in outbox]


def test_delete_account_needs_the_password(api, tokens):
    response = api.delete("/users/me", {"password": "wrong one"}, token=tokens["access_token"])
    assert_problem(response, 422, "validation_error")
    assert_problem(api.delete("/users/me", {}, token=tokens["access_token"]), 422)
    assert api.get("/users/me", token=tokens["access_token"]).status_code == 200
