"""The second step of a sign-in, and resetting second factors (README "Two-step sign-in").

After the right password of an account with an authenticator app, no session starts: the
caller gets an opaque `mfa_token` (stored hashed, single use, 5 minutes), and spends it with
a code from the app or a recovery code. Wrong codes spend the account's guessing budget (or
the known device's), three kill the token, and the first wrong code after a right password
emails the owner: someone who knows the password is trying."""

import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from portal import clock, one_time_secrets
from portal.extensions import db
from portal.flows import FlowError, budget, events, invalid, recovery_codes, totp
from portal.flows.accounts import notify, sign_in_facts
from portal.flows.admin import clean_reason
from portal.models import Device, MfaToken, Passkey, User, UserSession, forget_mfa_summary
from portal.origin import Origin

TOKEN_LIFETIME = timedelta(minutes=5)
MAX_WRONG_CODES = 3
METHODS = ["totp", "recovery_code"]


def _hash(token: str) -> str:
    return one_time_secrets.keyed_hash("mfa_token", token)


def password_marker(user: User) -> str:
    """A keyed fingerprint of the password hash: a token issued under another password (the
    password changed since) is dead."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"mfa:{user.password_hash}".encode(), hashlib.sha256).hexdigest()


def second_step_required(user: User, kind: str, device: Device | None) -> FlowError:
    """The right password was given: a token for the second step, committed, inside the
    error the caller raises (403 `mfa_required` in the API, the code page in a browser)."""
    token = one_time_secrets.new_token()
    now = clock.utcnow()
    db.session.add(
        MfaToken(
            user_id=user.id,
            token_hash=_hash(token),
            kind=kind,
            device_id=device.id if device is not None else None,
            password_marker=password_marker(user),
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    db.session.commit()
    return FlowError(
        "mfa_required",
        "Enter the 6-digit code from your authenticator app to finish signing in.",
        mfa_token=token,
        methods=list(METHODS),
    )


def _dead_token() -> FlowError:
    return FlowError(
        "invalid_token",
        "This sign-in has expired or was already finished. Sign in again with your password.",
    )


def find_token(token, kind: str, *, lock: bool = False) -> MfaToken | None:
    """The live token (unused, not expired, not killed, same password, same kind), or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        return None
    query = select(MfaToken).where(MfaToken.token_hash == _hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None or row.used_at is not None or row.kind != kind:
        return None
    if row.expires_at <= clock.utcnow() or row.failures >= MAX_WRONG_CODES:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or row.password_marker != password_marker(user):
        return None
    return row


def complete_second_step(
    token, origin: Origin, *, code=None, recovery_code=None, kind="web", device_token=None
) -> UserSession:
    """Spend the token with an authenticator code or a recovery code: the session starts
    (through signin.complete_sign_in: device remembered, new-device notice). Commits."""
    from portal.flows.signin import complete_sign_in

    row = find_token(token, kind, lock=True)
    if row is None:
        db.session.rollback()
        raise _dead_token()
    user = db.session.get(User, row.user_id)
    device = db.session.get(Device, row.device_id) if row.device_id else None
    key = budget.key_for(user, user.email, device)
    budget.check(key)

    code = code.strip() if isinstance(code, str) else ""
    recovery_code = recovery_code.strip() if isinstance(recovery_code, str) else ""
    if not code and not recovery_code:
        raise invalid({"code": ["Enter the 6-digit code from your authenticator app."]})
    if code and recovery_code:
        raise invalid({"code": ["Send either a code or a recovery code, not both."]})

    method, left = None, None
    if code:
        method = totp.METHOD if totp.check_code(user, code) else None
    else:
        left = recovery_codes.spend(user, recovery_code)
        method = "recovery_code" if left is not None else None

    if method is None:
        _wrong_code(row, user, origin, key)
        field = "code" if code else "recovery_code"
        raise FlowError(
            "invalid_code",
            "That code is not right." if code else "That recovery code is not right or was used.",
            field=field,
        )

    row.used_at = clock.utcnow()
    if left is not None:
        totp.recovery_code_used(user, left, origin)
    return complete_sign_in(user, kind, origin, device_token, second_factor=method, method=method)


def _wrong_code(row: MfaToken, user: User, origin: Origin, key: str) -> None:
    """Count it on the token (the third kills it) and on the budget; the first one after a
    right password emails the owner. Commits (through budget.charge)."""
    row.failures += 1
    if row.failures >= MAX_WRONG_CODES:
        row.used_at = clock.utcnow()
    events.record("second_step_failed", user, origin=origin, tries=row.failures)
    if row.failures == 1:
        notify(
            user,
            "second_step_failed",
            origin=origin,
            **sign_in_facts(origin.device, origin.ip_address),
        )
    budget.charge(key, user)


# -- admins and operators ---------------------------------------------------------------------

ADMIN_NEEDS_MFA = (
    "Admin pages need two-step sign-in: set up an authenticator app or a passkey on your "
    "profile, then sign in with it."
)


def admin_may_act(session: UserSession | None) -> bool:
    """With ADMIN_REQUIRE_MFA, an admin acts only from a session that proved a second factor
    (at sign-in, or by setting one up on it)."""
    if not current_app.config["ADMIN_REQUIRE_MFA"]:
        return True
    return session is not None and session.second_factor is not None


def reset_second_factors(
    admin: User | None, user: User, reason, origin: Origin | None = None, **data
) -> int:
    """Remove the authenticator app, recovery codes and every passkey of an account (lost
    phone, support checked who they are). `admin` is None for the CLI. The owner is emailed
    with the reason and reads it on Activity. Returns the passkeys removed. Commits."""
    reason = clean_reason(reason, required=admin is not None)
    had_totp = totp.is_enabled(user)
    totp.remove_all(user)
    removed = db.session.execute(
        delete(Passkey)
        .where(Passkey.user_id == user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    forget_mfa_summary(user)
    events.record(
        "mfa_reset",
        user,
        origin=origin,
        actor=admin,
        reason=reason or None,
        totp=had_totp,
        passkeys=removed,
        by="admin" if admin is not None else "operator",
        **data,
    )
    notify(user, "mfa_disabled", origin=origin, by_admin=True, reason=reason)
    db.session.commit()
    return removed
