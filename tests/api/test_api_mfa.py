"""Authenticator app, recovery codes and the second step at sign-in, through the API
(README "Two-step sign-in"), with the attacks on them: replayed codes, guessing, reused recovery
codes, dead second-step tokens, a stolen password alone."""

from datetime import timedelta

import pyotp
import pytest
from api_helpers import assert_problem, from_ip
from authenticator import totp_now
from sqlalchemy import select
from web_helpers import NEW_PASSWORD, PASSWORD, deliver_held_mail, kinds_sent

from portal import clock, crypto
from portal.extensions import db
from portal.models import MfaToken, RecoveryCode, SecurityEvent, TotpSecret, User


def enable_totp(api, token) -> tuple[str, list[str]]:
    """Set up and confirm TOTP for the token's account: (secret, recovery codes)."""
    started = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token)
    assert started.status_code == 200, started.get_data(as_text=True)
    secret = started.get_json()["secret"]
    confirmed = api.post("/users/me/mfa/totp/confirm", {"code": totp_now(secret)}, token=token)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    return secret, confirmed.get_json()["recovery_codes"]


def next_code(secret: str) -> str:
    """The code of the next 30-second step (a code is accepted once: wait for a new one)."""
    clock.advance(timedelta(seconds=30))
    return totp_now(secret)


def login_for_token(api, email="alice@example.com", password=PASSWORD, **kwargs) -> str:
    response = api.post("/auth/login", {"email": email, "password": password}, **kwargs)
    body = assert_problem(response, 403, "mfa_required")
    return body["mfa_token"]


@pytest.fixture
def totp_on(api, tokens):
    """alice with TOTP on: (secret, recovery codes, access token)."""
    secret, codes = enable_totp(api, tokens["access_token"])
    return secret, codes, tokens["access_token"]


def events(kind: str) -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


# Setting up ------------------------------------------------------------------------------


def test_setting_up_totp(api, user, tokens, outbox):
    token = tokens["access_token"]
    started = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token)

    body = started.get_json()
    assert set(body) == {"secret", "otpauth_uri"}
    assert body["otpauth_uri"].startswith("otpauth://totp/Portal:alice%40example.com?secret=")
    assert "issuer=Portal" in body["otpauth_uri"]
    # Not active until confirmed; stored encrypted, never as the plain secret.
    assert api.get("/users/me", token=token).get_json()["mfa"]["totp"] is False
    row = db.session.get(TotpSecret, user.id)
    assert body["secret"] not in row.secret_encrypted
    assert crypto.decrypt(row.secret_encrypted) == body["secret"]

    confirmed = api.post(
        "/users/me/mfa/totp/confirm", {"code": totp_now(body["secret"])}, token=token
    )
    codes = confirmed.get_json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert api.get("/users/me", token=token).get_json()["mfa"] == {
        "totp": True,
        "passkeys": 0,
        "recovery_codes_left": 10,
    }
    # Stored hashed only.
    hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert "mfa_enabled" in kinds_sent(outbox)
    assert len(events("mfa_enabled")) == 1


def test_setting_up_twice_is_409(api, totp_on):
    _, _, token = totp_on
    response = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token)
    assert_problem(response, 409, "totp_already_enabled")


def test_setting_up_needs_the_password(api, tokens):
    token = tokens["access_token"]
    clock.advance(timedelta(minutes=11))  # the sign-in's own proof is long gone
    missing = assert_problem(api.post("/users/me/mfa/totp", {}, token=token), 422)
    assert "password" in missing["errors"]
    wrong = api.post("/users/me/mfa/totp", {"password": "not it at all"}, token=token)
    assert "password" in assert_problem(wrong, 422, "validation_error")["errors"]


def test_a_wrong_first_code_leaves_totp_off(api, tokens):
    token = tokens["access_token"]
    secret = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token).get_json()[
        "secret"
    ]
    wrong = str((int(totp_now(secret)) + 1) % 1_000_000).zfill(6)
    response = api.post("/users/me/mfa/totp/confirm", {"code": wrong}, token=token)
    assert "code" in assert_problem(response, 422)["errors"]
    assert api.get("/users/me", token=token).get_json()["mfa"]["totp"] is False


# The second step at sign-in -----------------------------------------------------------------


def test_login_with_totp_answers_mfa_required_then_the_code_signs_in(api, totp_on, outbox):
    secret, _, _ = totp_on
    response = api.post("/auth/login", {"email": "alice", "password": PASSWORD})

    body = assert_problem(response, 403, "mfa_required")
    assert body["methods"] == ["totp", "recovery_code"]
    assert len(body["mfa_token"]) >= 40
    assert "access_token" not in body
    # Stored hashed.
    assert db.session.scalar(select(MfaToken.token_hash)) != body["mfa_token"]

    done = api.post("/auth/mfa", {"mfa_token": body["mfa_token"], "code": next_code(secret)})
    assert done.status_code == 200, done.get_data(as_text=True)
    tokens = done.get_json()
    assert tokens["user"]["mfa"]["totp"] is True
    assert api.get("/users/me", token=tokens["access_token"]).status_code == 200
    # Single use.
    again = api.post("/auth/mfa", {"mfa_token": body["mfa_token"], "code": next_code(secret)})
    assert_problem(again, 401, "invalid_token")


def test_a_totp_code_is_accepted_once_even_within_its_window(api, totp_on):
    secret, _, _ = totp_on
    code = next_code(secret)
    first = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": code})
    assert first.status_code == 200

    replay = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": code})
    assert_problem(replay, 400, "invalid_code")
    # Nor the one before it (a step behind is still in the window).
    previous = totp_now(secret, offset_steps=-1)
    older = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": previous})
    assert_problem(older, 400, "invalid_code")


def test_codes_of_one_step_either_way_pass(api, totp_on):
    secret, _, _ = totp_on
    clock.advance(timedelta(minutes=5))
    ahead = totp_now(secret, offset_steps=1)  # a phone clock 30 s fast
    response = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": ahead})
    assert response.status_code == 200
    clock.advance(timedelta(minutes=5))
    two_behind = totp_now(secret, offset_steps=-2)
    late = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": two_behind})
    assert_problem(late, 400, "invalid_code")


def test_guessing_codes_spends_the_accounts_budget_until_429(api, totp_on, outbox):
    secret, _, _ = totp_on
    right = next_code(secret)
    guesses = [str(n).zfill(6) for n in range(1000) if str(n).zfill(6) != right]
    statuses = []
    for n in range(12):
        if n % 3 == 0:  # a token dies after 3 wrong codes: sign in again
            token = login_for_token(api, **from_ip(f"198.51.100.{n + 1}"))
        response = api.post(
            "/auth/mfa", {"mfa_token": token, "code": guesses[n]}, **from_ip("198.51.100.99")
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    # The wrong passwords of nobody and the 10 wrong codes share one budget.
    assert statuses[:10] == [400] * 10
    limited = api.post("/auth/login", {"email": "alice", "password": PASSWORD})
    problem = assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert problem["code"] == "rate_limited"
    deliver_held_mail()
    assert "account_locked" in kinds_sent(outbox)


def test_a_wrong_second_step_emails_the_owner_once_per_sign_in(api, totp_on, outbox):
    _, _, _ = totp_on
    deliver_held_mail()  # the mfa_enabled notice has gone; the next one goes at once
    token = login_for_token(api)
    for _ in range(2):
        assert_problem(api.post("/auth/mfa", {"mfa_token": token, "code": "000000"}), 400)

    deliver_held_mail()
    assert kinds_sent(outbox).count("second_step_failed") == 1
    message = next(m for m in outbox if "second_step_failed" in m.get("kinds", [m["kind"]]))
    assert "on iOS" in message["text"] and "wrong code" in message["text"]
    assert len(events("second_step_failed")) == 2


def test_the_mfa_token_dies_after_three_wrong_codes(api, totp_on):
    secret, _, _ = totp_on
    token = login_for_token(api)
    for _ in range(3):
        assert_problem(api.post("/auth/mfa", {"mfa_token": token, "code": "000001"}), 400)
    right = api.post("/auth/mfa", {"mfa_token": token, "code": next_code(secret)})
    assert_problem(right, 401, "invalid_token")


def test_the_mfa_token_dies_after_five_minutes(api, totp_on):
    secret, _, _ = totp_on
    token = login_for_token(api)
    clock.advance(timedelta(minutes=5, seconds=1))
    response = api.post("/auth/mfa", {"mfa_token": token, "code": totp_now(secret)})
    assert_problem(response, 401, "invalid_token")


def test_the_mfa_token_dies_when_the_password_changes(api, totp_on):
    secret, _, access = totp_on
    token = login_for_token(api)
    changed = api.post(
        "/users/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "code": next_code(secret)},
        token=access,
    )
    assert changed.status_code == 204, changed.get_data(as_text=True)
    response = api.post("/auth/mfa", {"mfa_token": token, "code": next_code(secret)})
    assert_problem(response, 401, "invalid_token")


@pytest.mark.parametrize("token", ["x" * 43, "not-a-token"])
def test_unknown_mfa_tokens_are_401(api, totp_on, token):
    response = api.post("/auth/mfa", {"mfa_token": token, "code": "123456"})
    assert_problem(response, 401, "invalid_token")


@pytest.mark.parametrize("token", ["", "a" * 300])
def test_mfa_tokens_of_an_impossible_length_are_422_on_the_token(api, totp_on, token):
    response = api.post("/auth/mfa", {"mfa_token": token, "code": "123456"})
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]) == {"mfa_token"}


def test_an_mfa_token_from_a_browser_does_not_work_in_the_api(app, api, totp_on):
    from portal.flows import FlowError, signin
    from portal.origin import Origin

    with app.test_request_context():
        try:
            signin.sign_in("alice", PASSWORD, Origin("127.0.0.1", "Firefox"), kind="web")
        except FlowError as error:
            web_token = error.extra["mfa_token"]
    response = api.post("/auth/mfa", {"mfa_token": web_token, "code": totp_now(totp_on[0])})
    assert_problem(response, 401, "invalid_token")


def test_the_second_step_needs_a_code(api, totp_on):
    token = login_for_token(api)
    problem = assert_problem(api.post("/auth/mfa", {"mfa_token": token}), 422)
    assert "code" in problem["errors"]


# Recovery codes -----------------------------------------------------------------------------


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(api, totp_on, outbox):
    _, codes, _ = totp_on
    deliver_held_mail()
    done = api.post(
        "/auth/mfa", {"mfa_token": login_for_token(api), "recovery_code": codes[0].upper()}
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["user"]["mfa"]["recovery_codes_left"] == 9

    deliver_held_mail()
    message = next(m for m in outbox if "recovery_code_used" in m.get("kinds", [m["kind"]]))
    assert "9 recovery codes left" in message["text"]
    reuse = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "recovery_code": codes[0]})
    assert_problem(reuse, 400, "invalid_code")


def test_new_recovery_codes_void_the_old_ones(api, totp_on):
    secret, old, access = totp_on
    response = api.post(
        "/users/me/mfa/recovery-codes",
        {"password": PASSWORD, "code": next_code(secret)},
        token=access,
    )
    new = response.get_json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    stale = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "recovery_code": old[1]})
    assert_problem(stale, 400, "invalid_code")
    fresh = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "recovery_code": new[1]})
    assert fresh.status_code == 200


def test_recovery_codes_need_totp(api, tokens):
    response = api.post(
        "/users/me/mfa/recovery-codes", {"password": PASSWORD}, token=tokens["access_token"]
    )
    assert_problem(response, 409, "totp_not_enabled")


# Turning it off, and what a stolen password cannot do ------------------------------------------


def test_turning_totp_off_needs_the_password_and_a_code(api, totp_on, outbox):
    secret, _, access = totp_on
    clock.advance(timedelta(minutes=11))  # no recent proof on this session
    without_code = api.delete("/users/me/mfa/totp", {"password": PASSWORD}, token=access)
    assert "code" in assert_problem(without_code, 422)["errors"]

    done = api.delete(
        "/users/me/mfa/totp", {"password": PASSWORD, "code": totp_now(secret)}, token=access
    )
    assert done.status_code == 204
    me = api.get("/users/me", token=access).get_json()
    assert me["mfa"] == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    assert "mfa_disabled" in kinds_sent(outbox)
    assert db.session.scalar(select(RecoveryCode.id)) is None
    # Sign-in is one step again.
    assert api.post("/auth/login", {"email": "alice", "password": PASSWORD}).status_code == 200


def test_turning_totp_off_when_it_is_off_is_409(api, tokens):
    response = api.delete(
        "/users/me/mfa/totp", {"password": PASSWORD}, token=tokens["access_token"]
    )
    assert_problem(response, 409, "totp_not_enabled")


def test_a_stolen_password_and_session_cannot_turn_the_second_factor_off(api, totp_on):
    """The attacker has the password and a session (say, the owner's unlocked phone), but not
    the authenticator: guessing codes ends the session after 5 tries."""
    secret, _, access = totp_on
    clock.advance(timedelta(minutes=11))
    statuses = [
        api.delete(
            "/users/me/mfa/totp", {"password": PASSWORD, "code": f"{n:06d}"}, token=access
        ).status_code
        for n in range(6)
    ]
    assert statuses == [422, 422, 422, 422, 401, 401]
    assert db.session.scalar(select(User.totp_enabled)) is True


def test_wrong_reauth_answers_name_both_fields(api, totp_on):
    _, _, access = totp_on
    clock.advance(timedelta(minutes=11))
    wrong_password = api.delete(
        "/users/me/mfa/totp", {"password": "nope nope nope", "code": "123456"}, token=access
    )
    wrong_code = api.delete(
        "/users/me/mfa/totp", {"password": PASSWORD, "code": "123456"}, token=access
    )
    a, b = assert_problem(wrong_password, 422), assert_problem(wrong_code, 422)
    assert a["errors"] == b["errors"] and set(a["errors"]) == {"password", "code"}


def test_changing_the_password_needs_a_code_when_totp_is_on(api, totp_on):
    _, codes, access = totp_on
    response = api.post(
        "/users/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=access,
    )
    assert "code" in assert_problem(response, 422)["errors"]
    # A recovery code does as well as an app code.
    done = api.post(
        "/users/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "code": codes[3]},
        token=access,
    )
    assert done.status_code == 204


def test_the_user_object_costs_no_extra_query(api, totp_on, count_queries):
    _, _, access = totp_on
    clock.advance(timedelta(minutes=2))  # past the once-a-minute touch
    api.get("/users/me", token=access)
    with count_queries() as statements:
        body = api.get("/users/me", token=access).get_json()
    assert body["mfa"]["totp"] is True
    assert len(statements) == 1, statements


def test_the_secret_survives_a_key_rotation(app, api, totp_on):
    from cryptography.fernet import Fernet

    secret, _, _ = totp_on
    old_key = crypto._keys()[0].decode()
    app.config["MFA_KEYS"] = f"{Fernet.generate_key().decode()},{old_key}"
    response = api.post("/auth/mfa", {"mfa_token": login_for_token(api), "code": next_code(secret)})
    assert response.status_code == 200


def test_otpauth_uri_is_a_standard_one(api, tokens):
    body = api.post(
        "/users/me/mfa/totp", {"password": PASSWORD}, token=tokens["access_token"]
    ).get_json()
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == body["secret"]
    assert parsed.digits == 6 and parsed.interval == 30
