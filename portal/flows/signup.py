"""Sign-up and email verification."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, codes, events, invalid
from portal.flows.accounts import VERIFY, find_by_email, send_verification_code, try_send
from portal.flows.sessions import start_session
from portal.flows.validation import check_new_password, normalize_email, normalize_username
from portal.models import User, UserSession
from portal.passwords import hash_password


@dataclass
class SignUpResult:
    email: str
    # True when the code could not be emailed: the account exists, "resend code" will work.
    email_failed: bool = False


def sign_up(email, username, password, client: Client) -> SignUpResult:
    """Create an unverified account and email it a code. A taken email gets the very same
    answer (its owner is emailed instead), so sign-up never tells who has an account."""
    errors: dict[str, list[str]] = {}
    email, problem = normalize_email(email)
    if problem:
        errors["email"] = [problem]
    username, problem = normalize_username(username)
    if problem:
        errors["username"] = [problem]
    problem = check_new_password(password, email=email or "", username=username or "")
    if problem:
        errors["password"] = [problem]
    if errors:
        raise invalid(errors)

    password_hash = hash_password(password)  # always, so both answers cost the same
    existing = find_by_email(email)
    if existing is not None:
        try_send(existing.email, "account_exists", user=existing)
        return SignUpResult(email=email)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise _username_taken()

    user = User(id=uuid.uuid4(), email=email, username=username, password_hash=password_hash)
    db.session.add(user)
    events.record("signed_up", user, client=client)
    try:
        db.session.flush()
    except IntegrityError:  # someone took the email or username a moment ago
        db.session.rollback()
        if find_by_email(email) is not None:
            return SignUpResult(email=email)
        raise _username_taken() from None
    sent = send_verification_code(user)  # commits the user with the code
    return SignUpResult(email=email, email_failed=not sent)


def _username_taken() -> FlowError:
    return FlowError("username_taken", "That username is taken. Try another.", field="username")


def resend_verification(email, client: Client) -> None:
    """Send a fresh code if the address has an account waiting for one; the answer is the
    same whatever the case. At most one code a minute: a quicker request sends nothing."""
    email, problem = normalize_email(email)
    if problem:
        raise invalid({"email": [problem]})
    user = find_by_email(email)
    if user is None or user.is_verified or not user.is_active:
        return
    if codes.can_send_again(user, VERIFY):
        send_verification_code(user)


def verify_email(email, code, client: Client, *, kind: str = "web") -> UserSession:
    """Spend the emailed code: the account is verified and signed in on a new session."""
    email, _ = normalize_email(email)
    user = find_by_email(email)
    if user is not None and user.is_verified:
        user = None  # nothing left to confirm: same answer as a wrong code
    record = codes.spend_code(user, VERIFY, code)
    user = record.user
    if not user.is_active:
        raise FlowError("account_disabled", "This account has been disabled.")
    user.is_verified = True
    session = start_session(user, kind, client)
    events.record("email_verified", user, client=client, session=session)
    events.record("signed_in", user, client=client, session=session, method="email code")
    db.session.commit()
    return session
