"""The new sign-in notice and its "this wasn't me" link (README "Rules worth knowing").

A completed sign-in from a device the account has not used before emails the owner (device,
IP, time) with a link. Mail scanners follow links, so the link only opens a confirmation
page; its POST (single-use token, stored hashed) ends every session of the account, voids
its devices and emails a reset link."""

from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.flows import FlowError, codes, devices, events
from portal.flows.accounts import notify, send, sign_in_facts
from portal.flows.sessions import revoke_all
from portal.links import absolute_url
from portal.models import User, UserSession
from portal.origin import Origin

NOT_ME = "not_me"
NOT_ME_LIFETIME = timedelta(days=7)


def announce_new_sign_in(user: User, session: UserSession, origin: Origin) -> None:
    """Email the owner about a sign-in from a new device, with a "wasn't me" link (single
    use, stored hashed, 7 days). In the caller's transaction."""
    token = codes.issue_token(user, NOT_ME, lifetime=NOT_ME_LIFETIME, supersede=False)
    notify(
        user,
        "new_sign_in",
        origin=origin,
        **sign_in_facts(session.device_label, session.ip_address),
        link=absolute_url("auth.not_me", token=token),
    )


def check_not_me(token) -> User:
    record = codes.find_token(NOT_ME, token)
    if record is None:
        raise _bad_link()
    return record.user


def report_not_me(token, origin: Origin) -> User:
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
    events.record("not_me_reported", user, origin=origin, sessions_ended=ended)
    send(
        user.email,
        RESET,
        origin=origin,
        capped=False,
        expires_at=clock.utcnow() + codes.RESET_LIFETIME,
        user=user,
        link=reset_link(reset_token),
        minutes=int(codes.RESET_LIFETIME.total_seconds() // 60),
    )
    db.session.commit()
    return user


def _bad_link() -> FlowError:
    return codes.invalid_link("This link is invalid, was already used or has expired.")
