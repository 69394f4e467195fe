"""Forgotten password: request a link, set a new password."""

from portal import clock, outbox
from portal.extensions import db
from portal.flows import FlowError, budget, codes, devices, events, invalid
from portal.flows.accounts import find_by_email, notify, over_cap, queue_for_address, send
from portal.flows.sessions import revoke_all
from portal.flows.validation import check_new_password
from portal.links import absolute_url
from portal.models import User
from portal.origin import Origin
from portal.passwords import hash_password

RESET = "reset_password"


def request_password_reset(email, origin: Origin) -> None:
    """Email a single-use link if the account exists. The request only validates the address
    and queues one job; the worker decides, so what the request does (and how long it takes)
    is the same for every address."""
    queue_for_address("reset_link", email, origin)


@outbox.job("reset_link")
def send_reset_link(origin: Origin, email: str) -> None:
    """The job: a new link (the older one dies) for an active account, unless the address had
    its share of emails this hour (then the link it holds stays good); nothing otherwise."""
    user = find_by_email(email)
    if user is None or not user.is_active or over_cap(user.email, RESET, origin):
        return
    token = codes.issue_token(user, RESET)
    events.record("password_reset_requested", user, origin=origin)
    send(
        user.email,
        RESET,
        origin=origin,
        expires_at=clock.utcnow() + codes.RESET_LIFETIME,
        user=user,
        link=reset_link(token),
        minutes=int(codes.RESET_LIFETIME.total_seconds() // 60),
    )


def reset_link(token: str) -> str:
    """Built on PORTAL_BASE_URL, never on the Host header of the request."""
    return absolute_url("auth.reset_password", token=token)


def discard_reset_links(user: User) -> None:
    """Reset links die when the password or email changes or the account is disabled."""
    codes.discard_codes(user, RESET)


def check_reset_token(token) -> User:
    record = codes.find_token(RESET, token)
    if record is None:
        raise _bad_token()
    return record.user


def reset_password(token, password, origin: Origin) -> User:
    """Set a new password: every session ends, every device is forgotten, the guessing budget
    is cleared, the owner is told by email; no sign-in."""
    record = codes.find_token(RESET, token, lock=True)
    if record is None:
        raise _bad_token()
    user = record.user
    problem = check_new_password(password, email=user.email, username=user.username)
    if problem:
        raise invalid({"password": [problem]})
    record.used_at = clock.utcnow()
    user.password_hash = hash_password(password)
    ended = revoke_all(user, "Password was reset")
    devices.void_all(user)
    budget.clear(user)
    events.record("password_reset_completed", user, origin=origin, sessions_ended=ended)
    notify(user, "password_changed", origin=origin, device=origin.device)
    db.session.commit()
    return user


def _bad_token() -> FlowError:
    return codes.invalid_link(
        "This reset link is invalid, was already used or has expired. Ask for a new one."
    )
