"""Admins and operators and the second factor: the user page shows it, "reset two-step
sign-in" and "remove passkey" (each recorded, naming the admin; the owner is emailed and
reads the reason), ADMIN_REQUIRE_MFA, and the break-glass `users reset-mfa` CLI."""

import pytest
from authenticator import SoftAuthenticator
from sqlalchemy import select
from test_mfa_totp import next_code, second_step, turn_on_totp
from test_passkeys import ORIGIN, add_passkey, passkey_sign_in
from web_helpers import FIREFOX_UA, PASSWORD, deliver_held_mail, kinds_sent

from portal.extensions import db
from portal.models import Passkey, SecurityEvent, User


@pytest.fixture
def alice_with_factors(auth, user):
    """alice with TOTP and one passkey: (browser, secret, passkey authenticator)."""
    secret, _ = turn_on_totp(auth)
    phone = SoftAuthenticator(ORIGIN)
    assert add_passkey(auth, phone).status_code == 201
    return auth, secret, phone


def event(kind: str) -> SecurityEvent:
    return db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == kind).order_by(SecurityEvent.id.desc())
    )


def test_the_user_page_shows_the_second_factors(admin, alice_with_factors, user):
    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    section = page.split('id="two-step"')[1]
    assert "Authenticator app" in section and ">on<" in section
    assert "Recovery codes left</dt><dd>10" in section
    assert "Pixel fingerprint" in section
    assert "Reset two-step sign-in" in section


def test_resetting_two_step_sign_in(
    admin, admin_user, alice_with_factors, user, new_browser, outbox
):
    _, _, phone = alice_with_factors
    deliver_held_mail()
    response = admin.post(
        f"/admin/users/{user.id}/mfa/reset",
        {"reason": "Lost phone, ID checked by support"},
        form_page=f"/admin/users/{user.id}",
    )
    assert response.headers["Location"] == f"/admin/users/{user.id}"

    alice = db.session.get(User, user.id)
    assert not alice.totp_enabled and alice.passkey_count == 0
    assert alice.recovery_codes_left == 0
    recorded = event("mfa_reset")
    assert recorded.actor_id == admin_user.id
    assert recorded.data["reason"] == "Lost phone, ID checked by support"
    deliver_held_mail()
    assert "mfa_disabled" in kinds_sent(outbox)
    message = next(m for m in outbox if "mfa_disabled" in m.get("kinds", [m["kind"]]))
    assert "An administrator" in message["text"] and "Lost phone" in message["text"]

    # The owner signs in with the password alone, and reads why on Activity.
    browser = new_browser()
    assert (
        browser.post("/signin", {"login": "alice", "password": PASSWORD}).headers["Location"]
        == "/profile"
    )
    activity = browser.get("/activity").get_data(as_text=True)
    assert "An administrator reset two-step sign-in" in activity
    assert "Lost phone, ID checked by support" in activity
    assert "root@example.com" not in activity  # the owner is never told which admin
    admin_view = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "root@example.com reset two-step sign-in" in admin_view
    assert passkey_sign_in(new_browser(), phone).status_code == 401


def test_a_reset_needs_a_reason(admin, alice_with_factors, user):
    response = admin.post(
        f"/admin/users/{user.id}/mfa/reset", {"reason": "  "}, form_page=f"/admin/users/{user.id}"
    )
    assert response.status_code == 422
    assert "Give a short reason" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).totp_enabled


def test_removing_one_passkey(admin, admin_user, alice_with_factors, user, new_browser):
    _, _, phone = alice_with_factors
    passkey = db.session.scalar(select(Passkey))
    response = admin.post(
        f"/admin/users/{user.id}/passkeys/{passkey.id}/remove",
        {"reason": "stolen laptop"},
        form_page=f"/admin/users/{user.id}",
    )
    assert response.status_code == 303
    assert db.session.scalar(select(Passkey.id)) is None
    recorded = event("passkey_removed")
    assert recorded.actor_id == admin_user.id and recorded.data["name"] == "Pixel fingerprint"
    assert db.session.get(User, user.id).totp_enabled  # the rest stays
    assert passkey_sign_in(new_browser(), phone).status_code == 401


def test_removing_a_passkey_of_another_account_is_404(admin, alice_with_factors, make_user):
    bob = make_user(email="bob@example.com", username="bob")
    passkey = db.session.scalar(select(Passkey))
    response = admin.post(
        f"/admin/users/{bob.id}/passkeys/{passkey.id}/remove", {}, form_page="/admin/"
    )
    assert response.status_code == 404


def test_members_cannot_reset_anyone(auth, make_user):
    bob = make_user(email="bob@example.com", username="bob")
    response = auth.post(f"/admin/users/{bob.id}/mfa/reset", {"reason": "x"}, form_page="/profile")
    assert response.status_code == 403


# ADMIN_REQUIRE_MFA ----------------------------------------------------------------------------


def test_admins_need_a_second_factor_for_the_admin_pages(app, admin, new_browser):
    app.config["ADMIN_REQUIRE_MFA"] = True
    response = admin.get("/admin/")
    assert response.headers["Location"] == "/profile#two-step"
    assert "Admin pages need two-step sign-in" in admin.get("/profile").get_data(as_text=True)

    secret, _ = turn_on_totp(admin)  # set up on this session: it counts
    assert admin.get("/admin/").status_code == 200

    # A password-only admin session cannot act through the API either; a full one can.
    other = new_browser(FIREFOX_UA)
    other.post("/signin", {"login": "root", "password": PASSWORD})
    assert second_step(other, next_code(secret)).status_code == 303
    assert other.get("/admin/").status_code == 200


def test_the_api_refuses_admin_actions_without_a_second_factor(app, client, admin_user, user):
    app.config["ADMIN_REQUIRE_MFA"] = True
    login = client.post(
        "/api/v1/auth/login", json={"email": "root@example.com", "password": PASSWORD}
    )
    token = login.get_json()["access_token"]
    response = client.delete(
        f"/api/v1/users/{user.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert db.session.get(User, user.id) is not None


# Break-glass CLI ------------------------------------------------------------------------------


def test_the_cli_resets_two_step_sign_in_and_records_it(app, alice_with_factors, user, outbox):
    deliver_held_mail()
    result = app.test_cli_runner().invoke(
        args=["users", "reset-mfa", "ALICE@example.com", "--reason", "phone lost, verified"]
    )
    assert result.exit_code == 0, result.output
    assert "1 passkey removed" in result.output
    alice = db.session.get(User, user.id)
    assert not alice.totp_enabled and alice.passkey_count == 0
    recorded = event("mfa_reset")
    assert recorded.actor_id is None and recorded.data["by"] == "operator"
    assert recorded.data["via"] == "cli"
    deliver_held_mail()
    assert "mfa_disabled" in kinds_sent(outbox)


def test_the_cli_refuses_unknown_accounts(app):
    result = app.test_cli_runner().invoke(args=["users", "reset-mfa", "nobody@example.com"])
    assert result.exit_code != 0 and "No account has the email" in result.output


def test_rotating_mfa_keys_keeps_authenticators_working(app, alice_with_factors, user):
    from cryptography.fernet import Fernet

    from portal import crypto
    from portal.models import TotpSecret

    _, secret, _ = alice_with_factors
    old_key = crypto._keys()[0].decode()
    new_key = Fernet.generate_key().decode()
    app.config["MFA_KEYS"] = f"{new_key},{old_key}"
    result = app.test_cli_runner().invoke(args=["users", "rotate-mfa-keys"])
    assert result.exit_code == 0 and "Re-encrypted 1 authenticator secret." in result.output
    app.config["MFA_KEYS"] = new_key  # the old key can go now
    stored = db.session.get(TotpSecret, user.id).secret_encrypted
    assert crypto.decrypt(stored) == secret


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("MFA_KEYS", "not-a-fernet-key", "MFA_KEYS must be Fernet keys"),
        ("WEBAUTHN_RP_ID", "example.org", "WEBAUTHN_RP_ID must be the host"),
    ],
)
def test_second_factor_settings_are_checked_at_start(tmp_path, setting, value, words):
    from portal.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=words):
        load_config(
            str(tmp_path), {"PORTAL_BASE_URL": "https://accounts.example.com", setting: value}
        )
    ok = load_config(
        str(tmp_path),
        {"PORTAL_BASE_URL": "https://accounts.example.com", "WEBAUTHN_RP_ID": "example.com"},
    )
    assert ok["WEBAUTHN_RP_ID"] == "example.com"
