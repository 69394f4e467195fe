"""Sign-in and sign-out."""

from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, codes, events, invalid
from portal.flows.accounts import VERIFY, find_by_login, send_verification_code
from portal.flows.sessions import revoke, revoke_all, start_session
from portal.flows.validation import plain_password
from portal.models import User, UserSession
from portal.passwords import burn_password_check, hash_password, needs_rehash, verify_password

WRONG = "That email, username or password is not right."


def sign_in(login, password, client: Client, *, kind: str = "web") -> UserSession:
    """Email or username + password -> a new session. Unknown accounts and wrong passwords get
    the same answer at the same cost; being unverified or disabled is told only after the
    password was right."""
    login = login.strip().lower() if isinstance(login, str) else ""
    password = plain_password(password)
    errors = {}
    if not login:
        errors["login"] = ["Enter your email or username."]
    if not password:
        errors["password"] = ["Enter your password."]
    if errors:
        raise invalid(errors)

    user = find_by_login(login) if len(login) <= 254 else None
    if user is None:
        burn_password_check(password)
        raise FlowError("invalid_credentials", WRONG)
    if not verify_password(user.password_hash, password):
        events.record("sign_in_failed", user, client=client)
        db.session.commit()
        raise FlowError("invalid_credentials", WRONG)
    if not user.is_active:
        raise FlowError(
            "account_disabled", "This account has been disabled. Contact support for help."
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not user.is_verified:
        if codes.can_send_again(user, VERIFY):
            send_verification_code(user)
        raise FlowError(
            "email_not_verified",
            "Confirm your email address first: we sent a 6-digit code to it.",
            email=user.email,
        )
    session = start_session(user, kind, client)
    events.record("signed_in", user, client=client, session=session)
    db.session.commit()
    return session


def sign_out(user: User, session: UserSession, client: Client) -> None:
    """End this session server-side."""
    revoke(session, "Signed out")
    events.record("signed_out", user, client=client, session=session)
    db.session.commit()


def sign_out_everywhere(user: User, client: Client) -> int:
    count = revoke_all(user, "Signed out everywhere")
    events.record("signed_out_everywhere", user, client=client, count=count)
    db.session.commit()
    return count
