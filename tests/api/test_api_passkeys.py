"""Passkeys through the API (README "Two-step sign-in"): add, list, rename, remove, sign in; real
WebAuthn objects from a software authenticator (tests/authenticator.py), real verification.
Attacks: a cloned authenticator, another account's passkey, a stolen password alone, replayed
and foreign challenges, a wrong origin."""

from datetime import timedelta

import pytest
from api_helpers import assert_problem, from_ip
from authenticator import SoftAuthenticator, totp_now
from sqlalchemy import select
from web_helpers import PASSWORD, deliver_held_mail, kinds_sent

from portal import clock
from portal.extensions import db
from portal.models import Passkey, SecurityEvent, User, UserSession

ORIGIN = "http://portal.test"  # PORTAL_BASE_URL in tests: the RP ID is portal.test


def add_passkey(api, token, authenticator, name="MacBook Touch ID", **reauth) -> dict:
    options = api.post("/users/me/passkeys/options", {"password": PASSWORD, **reauth}, token=token)
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_json()["publicKey"])
    added = api.post("/users/me/passkeys", {"credential": credential, "name": name}, token=token)
    assert added.status_code == 201, added.get_data(as_text=True)
    return added.get_json()


def passkey_sign_in(api, authenticator, **kwargs):
    options = api.post("/auth/passkey/options").get_json()
    assertion = authenticator.get(options["publicKey"], **kwargs)
    return api.post(
        "/auth/passkey", {"challenge_id": options["challenge_id"], "credential": assertion}
    )


@pytest.fixture
def phone():
    return SoftAuthenticator(ORIGIN)


@pytest.fixture
def with_passkey(api, tokens, phone):
    return add_passkey(api, tokens["access_token"], phone)


def test_creation_options_ask_for_a_discoverable_user_verifying_passkey(api, user, tokens):
    response = api.post(
        "/users/me/passkeys/options", {"password": PASSWORD}, token=tokens["access_token"]
    )
    options = response.get_json()["publicKey"]
    assert options["rp"] == {"id": "portal.test", "name": "Portal"}
    assert options["user"]["name"] == "alice@example.com"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert len(options["challenge"]) >= 43


def test_adding_listing_renaming_a_passkey(api, tokens, phone, outbox):
    token = tokens["access_token"]
    passkey = add_passkey(api, token, phone)
    assert set(passkey) == {"id", "name", "created_at", "last_used_at"}
    assert passkey["name"] == "MacBook Touch ID" and passkey["last_used_at"] is None

    listed = api.get("/users/me/passkeys", token=token).get_json()["passkeys"]
    assert [p["id"] for p in listed] == [passkey["id"]]
    assert api.get("/users/me", token=token).get_json()["mfa"]["passkeys"] == 1

    renamed = api.patch(
        f"/users/me/passkeys/{passkey['id']}", {"name": " Work laptop "}, token=token
    )
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Work laptop"
    assert "passkey_added" in kinds_sent(outbox)
    row = db.session.scalar(select(Passkey))
    assert row.sign_count == 0 and row.transports == ["internal"]


def test_a_passkey_without_a_name_is_named_after_the_device(api, tokens, phone):
    token = tokens["access_token"]
    options = api.post("/users/me/passkeys/options", {"password": PASSWORD}, token=token)
    credential = phone.create(options.get_json()["publicKey"])
    added = api.post("/users/me/passkeys", {"credential": credential}, token=token)
    assert added.get_json()["name"] == "Passkey on Mobile Safari UI/WKWebView on iOS"


def test_signing_in_with_a_passkey_is_both_factors(api, with_passkey, phone):
    response = passkey_sign_in(api, phone)
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens = response.get_json()
    assert tokens["device_token"]
    session = db.session.scalar(select(UserSession).order_by(UserSession.created_at.desc()))
    assert session.second_factor == "passkey"
    listed = api.get("/users/me/passkeys", token=tokens["access_token"]).get_json()["passkeys"]
    assert listed[0]["last_used_at"] is not None


def test_a_passkey_signs_in_even_with_totp_on(api, tokens, phone):
    token = tokens["access_token"]
    started = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token).get_json()
    api.post("/users/me/mfa/totp/confirm", {"code": totp_now(started["secret"])}, token=token)
    clock.advance(timedelta(seconds=30))
    add_passkey(api, token, phone, code=totp_now(started["secret"]))
    assert passkey_sign_in(api, phone).status_code == 200


def test_a_cloned_authenticator_is_refused_and_recorded(api, with_passkey, phone):
    clone = phone.clone()
    assert passkey_sign_in(api, phone).status_code == 200  # counter 1
    assert passkey_sign_in(api, phone).status_code == 200  # counter 2

    response = passkey_sign_in(api, clone)  # the copy still says 1
    assert_problem(response, 401, "invalid_credentials")
    event = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == "passkey_counter_refused")
    )
    assert event.data["stored"] == "2" and event.data["presented"] == "1"
    # An equal counter is refused too.
    equal = passkey_sign_in(api, phone, sign_count=2)
    assert_problem(equal, 401, "invalid_credentials")


def test_passkeys_that_never_count_keep_working(api, tokens):
    synced = SoftAuthenticator(ORIGIN, counter_step=0, backup=True)
    add_passkey(api, tokens["access_token"], synced)
    assert passkey_sign_in(api, synced).status_code == 200
    assert passkey_sign_in(api, synced).status_code == 200
    assert db.session.scalar(select(Passkey.backed_up)) is True


def test_a_passkey_sign_in_is_never_held_back_by_the_guessing_budget(api, with_passkey, phone):
    for n in range(12):
        api.post(
            "/auth/login", {"email": "alice", "password": f"wrong {n}"}, **from_ip(f"203.0.113.{n}")
        )
    assert_problem(api.post("/auth/login", {"email": "alice", "password": PASSWORD}), 429)
    assert passkey_sign_in(api, phone).status_code == 200


def test_without_user_verification_the_passkey_is_refused(api, with_passkey, phone):
    assert_problem(passkey_sign_in(api, phone, uv=False), 401, "invalid_credentials")


def test_an_assertion_from_another_origin_is_refused(api, with_passkey, phone):
    response = passkey_sign_in(api, phone, origin="https://evil.example")
    assert_problem(response, 401, "invalid_credentials")


def test_a_challenge_is_single_use_and_short_lived(api, with_passkey, phone):
    options = api.post("/auth/passkey/options").get_json()
    first = phone.get(options["publicKey"])
    body = {"challenge_id": options["challenge_id"], "credential": first}
    assert api.post("/auth/passkey", body).status_code == 200
    again = {"challenge_id": options["challenge_id"], "credential": phone.get(options["publicKey"])}
    assert_problem(api.post("/auth/passkey", again), 401, "invalid_credentials")

    late = api.post("/auth/passkey/options").get_json()
    clock.advance(timedelta(minutes=5, seconds=1))
    body = {"challenge_id": late["challenge_id"], "credential": phone.get(late["publicKey"])}
    assert_problem(api.post("/auth/passkey", body), 401, "invalid_credentials")


def test_an_unknown_passkey_is_refused(api, user):
    stranger = SoftAuthenticator(ORIGIN)
    stranger.create(
        {
            "rp": {"id": "portal.test"},
            "user": {"id": "AAAA"},
            "challenge": "AAAA",
        }
    )
    assert_problem(passkey_sign_in(api, stranger), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "credential",
    [{}, {"id": "x"}, {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}],
)
def test_malformed_credentials_are_refused_cleanly(api, tokens, credential):
    options = api.post("/auth/passkey/options").get_json()
    body = {"challenge_id": options["challenge_id"], "credential": credential}
    assert_problem(api.post("/auth/passkey", body), 401, "invalid_credentials")
    added = api.post("/users/me/passkeys", {"credential": credential}, token=tokens["access_token"])
    assert "credential" in assert_problem(added, 422)["errors"]


def test_a_registration_needs_its_own_sessions_challenge(api, make_user, tokens, phone):
    """Options asked for by one session (or account) cannot be spent by another."""
    make_user(email="bob@example.com", username="bob")
    bob = api.login("bob@example.com")["access_token"]
    options = api.post(
        "/users/me/passkeys/options", {"password": PASSWORD}, token=tokens["access_token"]
    )
    credential = phone.create(options.get_json()["publicKey"])
    response = api.post("/users/me/passkeys", {"credential": credential}, token=bob)
    assert "credential" in assert_problem(response, 422)["errors"]
    assert db.session.scalar(select(Passkey.id)) is None


def test_another_users_passkey_is_404(api, make_user, with_passkey):
    make_user(email="bob@example.com", username="bob")
    bob = api.login("bob@example.com")["access_token"]
    path = f"/users/me/passkeys/{with_passkey['id']}"
    assert_problem(api.patch(path, {"name": "mine now"}, token=bob), 404, "not_found")
    assert_problem(api.delete(path, {"password": PASSWORD}, token=bob), 404, "not_found")
    assert_problem(api.patch("/users/me/passkeys/nope", {"name": "x"}, token=bob), 404)
    assert db.session.scalar(select(Passkey.name)) == "MacBook Touch ID"


def test_removing_a_passkey_needs_reauth_and_then_it_no_longer_signs_in(
    api, tokens, with_passkey, phone
):
    token = tokens["access_token"]
    path = f"/users/me/passkeys/{with_passkey['id']}"
    clock.advance(timedelta(minutes=11))
    assert "password" in assert_problem(api.delete(path, {}, token=token), 422)["errors"]
    assert api.delete(path, {"password": PASSWORD}, token=token).status_code == 204
    assert api.get("/users/me/passkeys", token=token).get_json() == {"passkeys": []}
    assert_problem(passkey_sign_in(api, phone), 401, "invalid_credentials")


def test_a_stolen_password_alone_cannot_add_a_passkey(api, tokens):
    """With TOTP on, the password is not enough to get creation options."""
    token = tokens["access_token"]
    secret = api.post("/users/me/mfa/totp", {"password": PASSWORD}, token=token).get_json()[
        "secret"
    ]
    api.post("/users/me/mfa/totp/confirm", {"code": totp_now(secret)}, token=token)
    clock.advance(timedelta(minutes=11))
    response = api.post("/users/me/passkeys/options", {"password": PASSWORD}, token=token)
    assert "code" in assert_problem(response, 422)["errors"]
    # And the password alone does not even sign in: the thief never gets a session.
    login = api.post("/auth/login", {"email": "alice", "password": PASSWORD})
    assert_problem(login, 403, "mfa_required")


def test_a_disabled_account_cannot_sign_in_with_its_passkey(api, with_passkey, phone, user):
    db.session.get(User, user.id).is_active = False
    db.session.commit()
    assert_problem(passkey_sign_in(api, phone), 403, "account_disabled")


def test_admin_reset_removes_passkeys(app, api, tokens, with_passkey, phone, outbox):
    from portal.flows import mfa

    deliver_held_mail()
    mfa.reset_second_factors(None, db.session.get(User, tokens["user"]["id"]), "lost phone")
    assert_problem(passkey_sign_in(api, phone), 401, "invalid_credentials")
    deliver_held_mail()  # the flow ran outside a request: nothing delivered it yet
    assert "mfa_disabled" in kinds_sent(outbox)


def test_well_known_files_come_from_configuration(app, client):
    assert client.get("/.well-known/assetlinks.json").status_code == 404
    assert client.get("/.well-known/apple-app-site-association").status_code == 404
    app.config["WEBAUTHN_ANDROID_APPS"] = "com.example.portal:ab:cd:ef, com.example.portal:12:34"
    app.config["WEBAUTHN_IOS_APPS"] = "ABCDE12345.com.example.portal"
    links = client.get("/.well-known/assetlinks.json")
    assert links.mimetype == "application/json"
    assert links.get_json() == [
        {
            "relation": ["delegate_permission/common.get_login_creds"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.portal",
                "sha256_cert_fingerprints": ["AB:CD:EF", "12:34"],
            },
        }
    ]
    apple = client.get("/.well-known/apple-app-site-association")
    assert apple.get_json() == {"webcredentials": {"apps": ["ABCDE12345.com.example.portal"]}}


def test_app_origins_can_use_the_passkeys(app, api, tokens):
    app.config["WEBAUTHN_ORIGINS"] = "android:apk-key-hash:abc123"
    android = SoftAuthenticator("android:apk-key-hash:abc123")
    add_passkey(api, tokens["access_token"], android)
    assert passkey_sign_in(api, android).status_code == 200
