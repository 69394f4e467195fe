"""Profile: username, email (confirmed by a code to the new address), password, deletion."""

import uuid
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import clock, outbox
from portal.extensions import db
from portal.flows import FlowError, budget, codes, events, invalid
from portal.flows.accounts import find_by_email, notify, over_cap, send
from portal.flows.password_reset import discard_reset_links
from portal.flows.reauth import confirm_identity
from portal.flows.sessions import revoke_all
from portal.flows.signup import username_taken
from portal.flows.validation import (
    check_new_password,
    normalize_email,
    normalize_username,
    plain_password,
)
from portal.models import SecurityEvent, User, UserSession
from portal.origin import Origin
from portal.passwords import hash_password

EMAIL_CHANGE = "email_change"
MAX_EMAIL_CHANGE_CODES_PER_HOUR = 5
USERNAME_TAKEN = "That username is taken. Try another."


def change_username(user: User, username, origin: Origin) -> User:
    """The profile page's rename: the username rules, then one commit."""
    errors: dict[str, list[str]] = {}
    new = _new_username(user, username, errors)
    if errors:
        raise _refusal(errors)
    with _one_commit():
        if new is not None:
            _rename(user, new, origin)
    return user


def request_email_change(
    user: User, email, password, session: UserSession | None, origin: Origin, *, code=None
) -> User:
    """Send a code to the new address; the email changes only when it is confirmed. Needs
    re-authentication, and at most 5 codes go out per account per hour whatever the target.
    If the address belongs to someone else, its owner gets an "account exists" note instead
    of the code, and everything else happens the same way, so the answers (now and at
    confirmation) never tell who has an account."""
    errors: dict[str, list[str]] = {}
    new = _new_email(user, email, errors)
    if errors:
        raise invalid(errors)
    if new is None:
        raise invalid({"email": ["That is already your email address."]})
    _check_email_codes_left(user, new)
    confirm_identity(user, session, password, origin, code=code)
    _ask_for_email(user, new, session, origin)
    db.session.commit()  # the code, or (when none goes out) the proof of identity alone
    return user


def update_profile(
    user: User,
    session: UserSession | None,
    origin: Origin,
    *,
    username=None,
    email=None,
    password=None,
    code=None,
) -> User:
    """Rename and/or ask for a new email (as `request_email_change`) at once: both or
    neither. Fields left as None stay; an email equal to the current one (once normalised)
    is no change and needs no password. Every field is checked before anything happens
    (a refusal names each bad field), then re-authentication when the email changes, then
    one commit."""
    errors: dict[str, list[str]] = {}
    new_username = _new_username(user, username, errors) if username is not None else None
    new_email = _new_email(user, email, errors) if email is not None else None
    if errors:
        raise _refusal(errors)
    if new_email is not None:
        _check_email_codes_left(user, new_email)
        confirm_identity(user, session, password, origin, code=code)
    with _one_commit():
        if new_username is not None:
            _rename(user, new_username, origin)
        if new_email is not None:
            _ask_for_email(user, new_email, session, origin)
    return user


def _new_username(user: User, value, errors: dict) -> str | None:
    """The normalised username when it differs from the current one and is free; a problem
    goes into `errors`."""
    username, problem = normalize_username(value)
    if problem:
        errors["username"] = [problem]
        return None
    if username == user.username:
        return None
    if username_taken(username):  # an account's, or held by a pending sign-up
        errors["username"] = [USERNAME_TAKEN]
        return None
    return username


def _new_email(user: User, value, errors: dict) -> str | None:
    """The normalised address when it differs from the current one; a problem goes into
    `errors`."""
    email, problem = normalize_email(value)
    if problem:
        errors["email"] = [problem]
        return None
    return None if email == user.email else email


def _refusal(errors: dict) -> FlowError:
    """409 `username_taken` when that is the only problem; otherwise 422 naming every field."""
    if errors == {"username": [USERNAME_TAKEN]}:
        return FlowError("username_taken", USERNAME_TAKEN, field="username")
    return invalid(errors)


def _rename(user: User, username: str, origin: Origin) -> None:
    old = user.username
    user.username = username
    events.record("username_changed", user, origin=origin, old=old, new=username)


def _too_soon_for_another(user: User, email: str) -> bool:
    """Asked again within a minute for the address whose code is on its way."""
    return user.pending_email == email and not codes.can_send_again(user, EMAIL_CHANGE)


def _check_email_codes_left(user: User, email: str) -> None:
    """429 once the account had its 5 codes this hour. Checked before anything changes
    (and before the password), so a refusal leaves everything as it was."""
    if _too_soon_for_another(user, email):
        return  # no new code goes out
    hour_ago = clock.utcnow() - timedelta(hours=1)
    sent = db.session.scalar(
        select(func.count())
        .select_from(SecurityEvent)
        .where(
            SecurityEvent.user_id == user.id,
            SecurityEvent.kind == "email_change_requested",
            SecurityEvent.created_at > hour_ago,
        )
    )
    if sent >= MAX_EMAIL_CHANGE_CODES_PER_HOUR:
        raise FlowError(
            "rate_limited",
            "That is enough email change codes for one hour. Wait an hour and try again.",
            retry_after=3600,
        )


def _ask_for_email(user: User, email: str, session: UserSession | None, origin: Origin) -> None:
    """The code to the new address, in the caller's transaction (identity already proven)."""
    if _too_soon_for_another(user, email):
        return  # the first code is still on its way
    if over_cap(email, EMAIL_CHANGE, origin):
        return  # the address had its share this hour: the code it holds stays
    user.pending_email = email
    code = codes.issue_code(user, EMAIL_CHANGE, target=email)
    events.record("email_change_requested", user, origin=origin, session=session, new=email)
    outbox.enqueue_job("email_change_code", origin, user_id=str(user.id), email=email, code=code)


@contextmanager
def _one_commit():
    """The changes made in the block, then their one commit. A username taken a moment ago
    (refused by the unique index at the commit, or at a query's autoflush inside the block)
    undoes all of it."""
    try:
        yield
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FlowError("username_taken", USERNAME_TAKEN, field="username") from None


@outbox.job("email_change_code")
def send_email_change_code(origin: Origin, user_id: str, email: str, code: str) -> None:
    """The job: the code to the new address, or an "account exists" note to its owner."""
    user = db.session.get(User, uuid.UUID(user_id))
    if user is None:
        return
    owner = find_by_email(email)
    if owner is not None:
        send(email, "account_exists", origin=origin, user=owner)
        return
    send(
        email,
        EMAIL_CHANGE,
        origin=origin,
        expires_at=clock.utcnow() + codes.CODE_LIFETIME,
        user=user,
        code=code,
        minutes=int(codes.CODE_LIFETIME.total_seconds() // 60),
    )


def confirm_email_change(user: User, code, origin: Origin) -> User:
    """Spend the code sent to the new address (wrong ones spend the account's guessing
    budget); the old address is told of the change, and reset links die."""
    key = budget.for_user(user)
    budget.check(key)
    record = codes.spend_code(user, EMAIL_CHANGE, code, budget_key=key)
    old, new = user.email, record.target
    if find_by_email(new) is not None:
        db.session.commit()
        raise invalid({"code": ["That address is now used by another account."]})
    user.email = new
    user.pending_email = None
    discard_reset_links(user)
    events.record("email_changed", user, origin=origin, old=old, new=new)
    # The old address hears of it, so a hijacked session can't quietly take the account.
    send(old, "email_changed", origin=origin, user=user, new_email=new, device=origin.device)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise invalid({"code": ["That address is now used by another account."]}) from None
    return user


def cancel_email_change(user: User) -> User:
    user.pending_email = None
    codes.discard_codes(user, EMAIL_CHANGE)
    db.session.commit()
    return user


def change_password(
    user: User,
    current_password,
    new_password,
    current: UserSession | None,
    origin: Origin,
    *,
    code=None,
) -> User:
    """Needs the current password; every other session ends, this one stays, and reset
    links die."""
    if not plain_password(current_password):
        raise invalid({"current_password": ["Enter your current password."]})
    confirm_identity(user, current, current_password, origin, field="current_password", code=code)
    problem = check_new_password(new_password, email=user.email, username=user.username)
    if not problem and new_password == current_password:
        problem = "Choose a password different from your current one."
    if problem:
        db.session.commit()  # keeps the proof of identity
        raise invalid({"new_password": [problem]})
    user.password_hash = hash_password(new_password)
    discard_reset_links(user)
    ended = revoke_all(user, "Password was changed", keep=current)
    events.record("password_changed", user, origin=origin, session=current, sessions_ended=ended)
    notify(user, "password_changed", origin=origin, device=origin.device)
    db.session.commit()
    return user


def delete_account(
    user: User, password, session: UserSession | None, origin: Origin, *, code=None
) -> None:
    """Needs the password (always, even after a recent proof). Sessions and codes go with the
    account; its events stay, detached, with the email they were about."""
    if not plain_password(password):
        raise invalid({"password": ["Enter your password to delete the account."]})
    confirm_identity(user, session, password, origin, code=code)
    email, username = user.email, user.username
    events.record("account_deleted", user, origin=origin)
    db.session.delete(user)
    send(email, "account_deleted", origin=origin, username=username)
    db.session.commit()
