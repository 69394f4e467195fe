"""Passkeys on the pages: add (after "confirm it's you"), rename, remove; sign in with one
from the sign-in page; confirm it's you with one. The browser's side (static/passkeys.js)
speaks JSON to these endpoints; here a software authenticator plays the browser, so the
server's verification is real."""

from datetime import timedelta

import pytest
from authenticator import SoftAuthenticator
from sqlalchemy import select
from test_mfa_totp import confirm_identity, turn_on_totp
from web_helpers import PASSWORD, csrf_token, deliver_held_mail, kinds_sent

from portal import clock
from portal.extensions import db
from portal.models import Passkey, SecurityEvent, UserSession

ORIGIN = "http://portal.test"


def post_json(browser, path, body=None, form_page="/profile"):
    token = csrf_token(browser.client, form_page)
    return browser.client.post(
        path,
        json=body or {},
        headers={**browser.headers, "X-CSRFToken": token, "Sec-Fetch-Site": "same-origin"},
    )


def add_passkey(browser, authenticator, name="Pixel fingerprint"):
    options = post_json(browser, "/profile/passkeys/options", {"name": name})
    assert options.status_code == 200, options.get_data(as_text=True)
    credential = authenticator.create(options.get_json()["publicKey"])
    return post_json(browser, "/profile/passkeys", {"name": name, "credential": credential})


def passkey_sign_in(browser, authenticator, **kwargs):
    options = post_json(browser, "/signin/passkey/options", form_page="/signin").get_json()
    assertion = authenticator.get(options["publicKey"], **kwargs)
    body = {"challenge_id": options["challenge_id"], "credential": assertion}
    return post_json(browser, "/signin/passkey", body, form_page="/signin")


@pytest.fixture
def phone():
    return SoftAuthenticator(ORIGIN)


@pytest.fixture
def with_passkey(auth, phone):
    confirm_identity(auth)
    assert add_passkey(auth, phone).status_code == 201
    return auth


def test_the_sign_in_page_offers_passkeys(client):
    page = client.get("/signin").get_data(as_text=True)
    assert 'autocomplete="username webauthn"' in page  # autofill (conditional mediation)
    assert "Sign in with a passkey" in page
    assert "needs JavaScript" in page  # said in a <noscript>
    assert "/static/passkeys.js" in page


def test_adding_a_passkey_from_the_profile(outbox, with_passkey):
    response = with_passkey.get("/profile")
    page = response.get_data(as_text=True)
    assert "Pixel fingerprint" in page and "not used yet" in page
    passkey = db.session.scalar(select(Passkey))
    assert f'id="passkey-{passkey.id}"' in page
    assert "passkey_added" in kinds_sent(outbox)
    assert "The passkey “Pixel fingerprint” is added" in page


def test_adding_needs_a_recent_proof(auth, phone):
    clock.advance(timedelta(minutes=11))
    response = post_json(auth, "/profile/passkeys/options", {"name": "x"})
    assert response.status_code == 403 and response.get_json()["reauth"] is True
    page = auth.get("/profile").get_data(as_text=True)
    assert "To add or remove a passkey, confirm it's you" in page


def test_a_stolen_password_alone_cannot_add_a_passkey(auth, phone):
    """With TOTP on, "confirm it's you" needs a code as well as the password."""
    turn_on_totp(auth)
    clock.advance(timedelta(minutes=11))
    assert confirm_identity(auth).status_code == 422
    assert post_json(auth, "/profile/passkeys/options", {"name": "x"}).status_code == 403


def test_signing_in_with_a_passkey(with_passkey, new_browser, phone):
    browser = new_browser()
    response = passkey_sign_in(browser, phone)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/profile"}
    assert browser.get("/profile").status_code == 200
    session = db.session.scalar(select(UserSession).order_by(UserSession.created_at.desc()))
    assert session.second_factor == "passkey"
    activity = browser.get("/activity").get_data(as_text=True)
    assert "Signed in with the passkey “Pixel fingerprint”" in activity


def test_a_passkey_signs_in_without_the_code_step_when_totp_is_on(auth, new_browser, phone):
    turn_on_totp(auth)  # the proof of this set-up still counts for adding the passkey
    assert add_passkey(auth, phone).status_code == 201
    browser = new_browser()
    assert passkey_sign_in(browser, phone).status_code == 200
    assert browser.get("/profile").status_code == 200


def test_a_cloned_authenticator_is_refused_and_shown_on_activity(with_passkey, new_browser, phone):
    clone = phone.clone()
    assert passkey_sign_in(new_browser(), phone).status_code == 200
    refused = passkey_sign_in(new_browser(), clone, sign_count=1)
    assert refused.status_code == 401
    assert "copied" in refused.get_json()["error"]
    assert db.session.scalar(
        select(SecurityEvent.id).where(SecurityEvent.kind == "passkey_counter_refused")
    )
    page = with_passkey.get("/activity").get_data(as_text=True)
    assert "its use counter went back" in page


def test_passkey_sign_in_ignores_the_guessing_budget(with_passkey, new_browser, phone):
    thief = new_browser()
    for n in range(10):
        thief.post("/signin", {"login": "alice", "password": f"wrong guess {n}"})
    assert thief.post("/signin", {"login": "alice", "password": PASSWORD}).status_code == 429
    assert passkey_sign_in(new_browser(), phone).status_code == 200


def test_renaming_a_passkey(with_passkey):
    passkey = db.session.scalar(select(Passkey))
    response = with_passkey.post(
        f"/profile/passkeys/{passkey.id}/rename", {"name": "Old phone"}, form_page="/profile"
    )
    assert response.headers["Location"] == "/profile#passkeys"
    assert db.session.scalar(select(Passkey.name)) == "Old phone"


def test_removing_a_passkey_needs_a_recent_proof(with_passkey, new_browser, phone):
    passkey = db.session.scalar(select(Passkey))
    clock.advance(timedelta(minutes=11))
    refused = with_passkey.post(f"/profile/passkeys/{passkey.id}/remove", {}, form_page="/profile")
    assert refused.headers["Location"] == "/profile#two-step"
    assert db.session.scalar(select(Passkey.id)) is not None

    confirm_identity(with_passkey)
    done = with_passkey.post(f"/profile/passkeys/{passkey.id}/remove", {}, form_page="/profile")
    assert done.headers["Location"] == "/profile#passkeys"
    assert db.session.scalar(select(Passkey.id)) is None
    assert passkey_sign_in(new_browser(), phone).status_code == 401


def test_another_users_passkey_is_404(with_passkey, make_user, new_browser):
    passkey = db.session.scalar(select(Passkey))
    make_user(email="bob@example.com", username="bob")
    bob = new_browser()
    bob.sign_in("bob@example.com")
    confirm_identity(bob)
    for action in ("rename", "remove"):
        response = bob.post(
            f"/profile/passkeys/{passkey.id}/{action}", {"name": "mine"}, form_page="/profile"
        )
        assert response.status_code == 404
    assert db.session.scalar(select(Passkey.name)) == "Pixel fingerprint"


def test_confirming_its_you_with_a_passkey(with_passkey, phone):
    clock.advance(timedelta(minutes=11))
    options = post_json(with_passkey, "/profile/confirm/passkey/options").get_json()
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]]
    assertion = phone.get(options["publicKey"])
    body = {"challenge_id": options["challenge_id"], "credential": assertion}
    response = post_json(with_passkey, "/profile/confirm/passkey", body)
    assert response.status_code == 200 and response.get_json()["redirect"] == "/profile#two-step"
    assert "more minute" in with_passkey.get("/profile").get_data(as_text=True)


def test_another_accounts_passkey_does_not_confirm_its_you(with_passkey, make_user, new_browser):
    make_user(email="bob@example.com", username="bob")
    bob = new_browser()
    bob.sign_in("bob@example.com")
    bobs_phone = SoftAuthenticator(ORIGIN)
    confirm_identity(bob)
    assert add_passkey(bob, bobs_phone).status_code == 201
    clock.advance(timedelta(minutes=11))
    alice_options = post_json(with_passkey, "/profile/confirm/passkey/options").get_json()
    assertion = bobs_phone.get({**alice_options["publicKey"], "allowCredentials": []})
    body = {"challenge_id": alice_options["challenge_id"], "credential": assertion}
    response = post_json(with_passkey, "/profile/confirm/passkey", body)
    assert response.status_code == 422
    assert "confirm it's you" in with_passkey.get("/profile").get_data(as_text=True).lower()


def test_the_passkey_endpoints_need_the_csrf_token(with_passkey, client):
    response = with_passkey.client.post("/profile/passkeys/options", json={})
    assert response.status_code == 400
    anonymous = client.post("/signin/passkey/options", json={})
    assert anonymous.status_code == 400


def test_a_bad_body_is_refused_cleanly(new_browser, user):
    browser = new_browser()
    token = csrf_token(browser.client, "/signin")
    for body in (b"not json", b"[]", b'{"credential": 5}'):
        response = browser.client.post(
            "/signin/passkey",
            data=body,
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )
        assert response.status_code == 401


def test_new_notice_for_a_new_device(with_passkey, new_browser, phone, outbox):
    deliver_held_mail()
    passkey_sign_in(new_browser(), phone)
    deliver_held_mail()
    assert "new_sign_in" in kinds_sent(outbox)
