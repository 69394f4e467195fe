"""The new sign-in notice and its "this wasn't me" link (DESIGN.md section 7).

A completed sign-in from a device the account has not used before emails the owner (device,
IP, time) with a link. Mail scanners follow links, so the link only opens a confirmation
page; its POST (single-use token, stored hashed) ends every session of the account, voids
its devices and emails a reset link."""

from datetime import timedelta

from portal import clock, jobs
from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, codes, devices, events
from portal.flows.accounts import try_send
from portal.flows.sessions import revoke_all
from portal.models import User, UserSession

NOT_ME = "not_me"
NOT_ME_LIFETIME = timedelta(days=7)


def prepare_new_sign_in(user: User, session: UserSession, client: Client) -> str:
    """The "wasn't me" token for a new device's sign-in, in the caller's transaction."""
    return codes.issue_token(user, NOT_ME, lifetime=NOT_ME_LIFETIME, supersede=False)


def send_new_sign_in(user: User, session: UserSession, client: Client, token: str) -> None:
    try_send(
        user.email,
        "new_sign_in",
        client=client,
        user=user,
        device=session.device_label,
        ip_address=session.ip_address or "an unknown address",
        when=clock.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        link=jobs.absolute_url("auth.not_me", token=token),
    )


def check_not_me(token) -> User:
    record = codes.find_token(NOT_ME, token)
    if record is None:
        raise _bad_link()
    return record.user


def report_not_me(token, client: Client) -> User:
    """Someone else signed in: every session ends, every device is forgotten, and a reset
    link goes to the owner (the one place a reset link is sent without being asked for)."""
    from portal.flows.password_reset import RESET, reset_link

    record = codes.find_token(NOT_ME, token, lock=True)
    if record is None:
        raise _bad_link()
    user = record.user
    record.used_at = clock.utcnow()
    ended = revoke_all(user, "Ended after a “this wasn't me” report")
    devices.void_all(user)
    reset_token = codes.issue_token(user, RESET)
    events.record("not_me_reported", user, client=client, sessions_ended=ended)
    db.session.commit()
    try_send(
        user.email,
        RESET,
        client=client,
        capped=False,
        user=user,
        link=reset_link(reset_token),
        minutes=int(codes.RESET_LIFETIME.total_seconds() // 60),
    )
    return user


def _bad_link() -> FlowError:
    return FlowError(
        "invalid_reset_token",
        "This link is invalid, was already used or has expired.",
        field="token",
    )
