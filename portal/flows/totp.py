"""Authenticator app (TOTP, RFC 6238): set up, confirm, check, turn off (README "Two-step sign-in").

SHA-1, 6 digits, 30-second steps, one step of clock drift either way: what every
authenticator app speaks. A code is accepted once: the last step accepted is stored and only
later steps pass, under a row lock, so a code seen over a shoulder (or sent twice at once)
is no use. The secret is encrypted at rest with MFA_KEYS (portal/crypto.py)."""

import hmac
from datetime import timedelta

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select

from portal import clock, crypto
from portal.extensions import db
from portal.flows import FlowError, events, invalid, recovery_codes
from portal.flows.accounts import notify
from portal.flows.reauth import confirm_identity
from portal.models import MfaToken, TotpSecret, User, UserSession, forget_mfa_summary
from portal.origin import Origin

INTERVAL = 30
DIGITS = 6
DRIFT_STEPS = 1
# A set-up not confirmed within this long starts again.
SETUP_LIFETIME = timedelta(minutes=30)
METHOD = "totp"


def _already_on() -> FlowError:
    return FlowError(
        "totp_already_enabled",
        "Two-step sign-in with an authenticator app is already on. Turn it off first to "
        "move to another app.",
    )


def _not_on() -> FlowError:
    return FlowError(
        "totp_not_enabled", "Two-step sign-in with an authenticator app is not on for this account."
    )


def _row(user: User, *, lock: bool = False) -> TotpSecret | None:
    query = select(TotpSecret).where(TotpSecret.user_id == user.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def is_enabled(user: User) -> bool:
    """Fresh from the database (user.totp_enabled is as of when the user was loaded)."""
    row = _row(user)
    return row is not None and row.confirmed_at is not None


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def provisioning_uri(user: User, secret: str) -> str:
    issuer = current_app.config["WEBAUTHN_RP_NAME"]
    return _totp(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, made here (no outside service sees it)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#1c2330", light="#ffffff")


def _current_step() -> int:
    return int(clock.utcnow().timestamp()) // INTERVAL


def _matching_step(secret: str, code, after: int) -> int | None:
    """The time step (now, or one either way) whose code this is, if later than `after`."""
    code = "".join(code.split()) if isinstance(code, str) else ""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp, now = _totp(secret), _current_step()
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit), in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after:
            found = step
    return found


def check_code(user: User, code) -> bool:
    """Whether `code` is a fresh code of the account's active authenticator; when it is, its
    step is spent. Caller commits."""
    row = _row(user, lock=True)
    if row is None or row.confirmed_at is None:
        return False
    step = _matching_step(crypto.decrypt(row.secret_encrypted), code, row.last_used_step)
    if step is None:
        return False
    row.last_used_step = step
    return True


def check_second_factor(user: User, code) -> str | None:
    """A code typed where either kind is accepted: 6 digits are an authenticator code, anything
    else a recovery code. The method that matched ("totp", "recovery_code"), spent, or None.
    A recovery code used here tells its owner (in the caller's transaction)."""
    text = "".join(code.split()) if isinstance(code, str) else ""
    if text.isdigit():
        return METHOD if check_code(user, text) else None
    left = recovery_codes.spend(user, text)
    if left is None:
        return None
    recovery_code_used(user, left)
    return "recovery_code"


def recovery_code_used(user: User, left: int, origin: Origin | None = None) -> None:
    events.record("recovery_code_used", user, origin=origin, left=left)
    notify(user, "recovery_code_used", origin=origin, left=left)


# -- set up and turn off ---------------------------------------------------------------------


def begin_setup(
    user: User, session: UserSession | None, password, origin: Origin, *, code=None
) -> tuple[str, str]:
    """After re-authentication: a new secret (not active until a first code confirms it) and
    its otpauth:// URI. Starting again replaces a set-up not confirmed yet. Commits."""
    if is_enabled(user):
        raise _already_on()
    confirm_identity(user, session, password, origin, code=code)
    row = _row(user, lock=True)
    if row is not None and row.confirmed_at is not None:
        raise _already_on()
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    if row is None:
        row = TotpSecret(user_id=user.id)
        db.session.add(row)
    row.secret_encrypted = crypto.encrypt(secret)
    row.created_at = clock.utcnow()
    row.last_used_step = 0
    db.session.commit()
    return secret, provisioning_uri(user, secret)


def pending_setup(user: User) -> tuple[str, str] | None:
    """The secret and URI of a set-up waiting for its first code (pages show them again)."""
    row = _row(user)
    if row is None or row.confirmed_at is not None:
        return None
    if clock.utcnow() - row.created_at > SETUP_LIFETIME:
        return None
    secret = crypto.decrypt(row.secret_encrypted)
    return secret, provisioning_uri(user, secret)


def confirm_setup(user: User, session: UserSession | None, code, origin: Origin) -> list[str]:
    """The first code from the app turns TOTP on; answers with 10 new recovery codes (shown
    once). The owner is emailed. Commits."""
    row = _row(user, lock=True)
    if row is not None and row.confirmed_at is not None:
        raise _already_on()
    if row is None or clock.utcnow() - row.created_at > SETUP_LIFETIME:
        raise invalid({"code": ["This set-up has expired or was never started. Start again."]})
    if not isinstance(code, str) or not code.strip():
        raise invalid({"code": ["Enter the 6-digit code your app shows."]})
    step = _matching_step(crypto.decrypt(row.secret_encrypted), code, 0)
    if step is None:
        raise invalid(
            {"code": ["That code is not right. Check the clock of your phone and try again."]}
        )
    row.confirmed_at = clock.utcnow()
    row.last_used_step = step
    forget_mfa_summary(user)
    codes = recovery_codes.replace_all(user)
    if session is not None:
        session.second_factor = METHOD
    events.record("mfa_enabled", user, origin=origin, session=session, method="authenticator app")
    notify(user, "mfa_enabled", origin=origin, device=origin.device)
    db.session.commit()
    return codes


def disable(
    user: User, session: UserSession | None, password, origin: Origin, *, code=None
) -> None:
    """After re-authentication (password and a code): TOTP and the recovery codes are gone,
    and the owner is emailed. Commits."""
    confirm_identity(user, session, password, origin, code=code)
    if not is_enabled(user):
        raise _not_on()
    remove_all(user)
    events.record("mfa_disabled", user, origin=origin, session=session)
    notify(user, "mfa_disabled", origin=origin, device=origin.device)
    db.session.commit()


def remove_all(user: User) -> None:
    """The authenticator, its recovery codes and any second step waiting. Caller commits."""
    db.session.execute(
        delete(TotpSecret)
        .where(TotpSecret.user_id == user.id)
        .execution_options(synchronize_session=False)
    )
    recovery_codes.discard_all(user)  # forgets the user's mfa summary
    db.session.execute(
        delete(MfaToken)
        .where(MfaToken.user_id == user.id)
        .execution_options(synchronize_session=False)
    )


def new_recovery_codes(
    user: User, session: UserSession | None, password, origin: Origin, *, code=None
) -> list[str]:
    """After re-authentication: 10 new recovery codes; the old ones stop working. Commits."""
    confirm_identity(user, session, password, origin, code=code)
    if not is_enabled(user):
        raise _not_on()
    codes = recovery_codes.replace_all(user)
    events.record("recovery_codes_replaced", user, origin=origin, session=session)
    db.session.commit()
    return codes


def reencrypt_secrets() -> int:
    """Re-encrypt every authenticator secret under the newest of MFA_KEYS (key rotation: put
    the new key first, run this, then drop the old key). Commits; returns how many."""
    rows = db.session.scalars(select(TotpSecret).with_for_update()).all()
    for row in rows:
        row.secret_encrypted = crypto.rotate(row.secret_encrypted)
    db.session.commit()
    return len(rows)
