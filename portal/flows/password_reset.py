"""Forgotten password: request a link, set a new password."""

from flask import url_for

from portal import clock
from portal.client import Client
from portal.email import send_email_after_response
from portal.extensions import db
from portal.flows import FlowError, codes, events, invalid
from portal.flows.accounts import find_by_email, try_send
from portal.flows.sessions import revoke_all
from portal.flows.validation import check_new_password, normalize_email
from portal.models import User
from portal.passwords import hash_password

RESET = "reset_password"


def request_password_reset(email, client: Client) -> None:
    """Email a single-use link if the account exists. The answer and its timing are the same
    either way: the email itself goes out after the response."""
    email, problem = normalize_email(email)
    if problem:
        raise invalid({"email": [problem]})
    user = find_by_email(email)
    if user is None or not user.is_active:
        return
    token = codes.issue_token(user, RESET)
    events.record("password_reset_requested", user, client=client)
    db.session.commit()
    link = reset_link(token)
    send_email_after_response(user.email, RESET, user=user, link=link, minutes=30)


def reset_link(token: str) -> str:
    """Built on PORTAL_BASE_URL, never on the Host header of the request."""
    from flask import current_app

    path = url_for("auth.reset_password", token=token, _external=False)
    return current_app.config["PORTAL_BASE_URL"] + path


def check_reset_token(token) -> User:
    record = codes.find_token(RESET, token)
    if record is None:
        raise _bad_token()
    return record.user


def reset_password(token, password, client: Client) -> User:
    """Set a new password: every session ends, the owner is told by email, no sign-in."""
    record = codes.find_token(RESET, token, lock=True)
    if record is None:
        raise _bad_token()
    user = record.user
    problem = check_new_password(password, email=user.email, username=user.username)
    if problem:
        raise invalid({"password": [problem]})
    record.used_at = clock.utcnow()
    user.password_hash = hash_password(password)
    # The link proved the mailbox is theirs.
    user.is_verified = True
    ended = revoke_all(user, "Password was reset")
    events.record("password_reset_completed", user, client=client, sessions_ended=ended)
    db.session.commit()
    try_send(user.email, "password_changed", user=user, device=client.device)
    return user


def _bad_token() -> FlowError:
    return FlowError(
        "invalid_reset_token",
        "This reset link is invalid, was already used or has expired. Ask for a new one.",
        field="token",
    )
