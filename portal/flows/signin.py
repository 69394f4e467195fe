"""Sign-in and sign-out."""

from portal.extensions import commit_keeping_loaded, db
from portal.flows import FlowError, budget, devices, events, invalid, mfa, notices, signup
from portal.flows.accounts import find_for_sign_in
from portal.flows.sessions import revoke, revoke_all, start_session
from portal.flows.validation import plain_password
from portal.models import User, UserSession
from portal.origin import Origin
from portal.passwords import burn_password_check, hash_password, needs_rehash, verify_password

WRONG = "That email, username or password is not right."


def sign_in(
    login, password, origin: Origin, *, kind: str = "web", device_token=None
) -> UserSession:
    """Email or username + password -> a new session. Unknown accounts and wrong passwords get
    the same answer at the same cost, and spend a guessing budget of the same shape (the
    account's, this device's, or the login's as typed); being disabled is told only after the
    password was right. The session carries `device_token`, for the browser or app to keep."""
    login = login.strip().lower() if isinstance(login, str) else ""
    password = plain_password(password)
    errors = {}
    if not login:
        errors["login"] = ["Enter your email or username."]
    if not password:
        errors["password"] = ["Enter your password."]
    if errors:
        raise invalid(errors)  # not a guess: nothing is counted

    login = login[:254]
    user, device, blocked_until = find_for_sign_in(login, device_token)
    key = budget.key_for(user, login, device)
    budget.check(key, blocked_until=blocked_until)

    if user is None:
        pending = signup.pending_for_login(login)
        if pending is None:
            burn_password_check(password)
        else:
            _confirm_step_if_theirs(pending, password, origin)
        events.record("sign_in_failed", None, origin=origin, login=login)
        budget.charge(key)
        raise FlowError("invalid_credentials", WRONG)
    if not verify_password(user.password_hash, password):
        # One's own sign-up for a taken address answers as for a free one (its job then
        # tells the owner "account exists"), so signing in never tells them apart.
        pending = signup.pending_for_login(login)
        if pending is not None:
            _confirm_step_if_theirs(pending, password, origin)
        events.record("sign_in_failed", user, origin=origin)
        budget.charge(key, user)
        raise FlowError("invalid_credentials", WRONG)
    if not user.is_active:
        raise FlowError(
            "account_disabled", "This account has been disabled. Contact support for help."
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    # The account was read just now, its second factors with it (models.py: totp_enabled).
    if user.totp_enabled:
        # Two-step sign-in: no session until a code is given (flows/mfa.py).
        raise mfa.second_step_required(user, kind, device)
    return complete_sign_in(user, kind, origin, device_token, device=device)


def _confirm_step_if_theirs(pending, password: str, origin: Origin) -> None:
    """The right password of a sign-up that is not confirmed yet: a fresh code for it."""
    if verify_password(pending.password_hash, password):
        signup.resend_code(pending, origin)
        raise FlowError(
            "email_not_verified",
            "Confirm your email address first: we sent a 6-digit code to it.",
            email=pending.email,
            pending_id=str(pending.id),
        )


def complete_sign_in(
    user: User,
    kind: str,
    origin: Origin,
    device_token=None,
    *,
    second_factor=None,
    device=devices.NOT_LOOKED_UP,
    **data,
):
    """Every factor is checked: a new session on this device, announced when the device is
    new to the account. `second_factor`: what proved it beyond the password, if anything
    (totp, recovery_code, passkey); `device`: what the caller's own look-up of `device_token`
    found (a Device or None), if it made one. Commits."""
    # Nothing is written before the commit: the statements below only read (and end sessions
    # past the cap), and the new rows (device, session, events, notice) go in one flush.
    with db.session.no_autoflush:
        device, token, announce = devices.remember(user, kind, origin, device_token, known=device)
        # Everything the session row holds is set before it is first written: one INSERT.
        session = start_session(
            user, kind, origin, second_factor=second_factor, device_id=device.id
        )
        session.device_token = token
        events.record("signed_in", user, origin=origin, session=session, **data)
        if announce:
            notices.announce_new_sign_in(user, session, device, origin)
    commit_keeping_loaded()
    return session


def sign_out(user: User, session: UserSession, origin: Origin) -> None:
    """End this session server-side."""
    revoke(session, "Signed out")
    events.record("signed_out", user, origin=origin, session=session)
    db.session.commit()


def sign_out_everywhere(user: User, origin: Origin) -> int:
    count = revoke_all(user, "Signed out everywhere")
    events.record("signed_out_everywhere", user, origin=origin, count=count)
    db.session.commit()
    return count
