"""The new sign-in notice and its "this wasn't me" link (README "Rules worth knowing").

A completed sign-in from a device the account has not used before emails the owner (device,
IP, time) with a link. Mail scanners follow links, so the link only opens a confirmation
page; its POST ends every session of the account, voids its devices and emails a reset link.

The link names the new device and carries a keyed hash of its id: nothing is stored for it.
It is good for 7 days from that sign-in while the device is remembered: a report forgets
every device of the account (so a link works once), and so does a password reset."""

import uuid
from datetime import timedelta

from sqlalchemy import select

from portal import clock, one_time_secrets
from portal.extensions import db
from portal.flows import FlowError, codes, devices, events
from portal.flows.accounts import notify, send, sign_in_facts
from portal.flows.sessions import revoke_all
from portal.links import absolute_url
from portal.models import Device, OneTimeCode, User, UserSession
from portal.origin import Origin

NOT_ME = "not_me"
NOT_ME_LIFETIME = timedelta(days=7)


def announce_new_sign_in(user: User, session: UserSession, device: Device, origin: Origin) -> None:
    """Email the owner about a sign-in from a new device, with a "wasn't me" link for it.
    In the caller's transaction."""
    notify(
        user,
        "new_sign_in",
        origin=origin,
        **sign_in_facts(session.device_label, session.ip_address),
        link=absolute_url("auth.not_me", token=_token_for(device)),
    )


def _token_for(device: Device) -> str:
    return f"{device.id.hex}.{one_time_secrets.keyed_hash(NOT_ME, device.id.hex)}"


def _device_named_by(token, *, lock: bool = False) -> Device | None:
    """The device a link names, while the link is good (see above)."""
    if not isinstance(token, str) or len(token) != 97 or token[32] != ".":
        return None
    name, mac = token.split(".")
    try:
        device_id = uuid.UUID(hex=name)
    except ValueError:
        return None
    if not one_time_secrets.matches(mac, NOT_ME, device_id.hex):
        return None
    query = select(Device).where(
        Device.id == device_id, Device.created_at > clock.utcnow() - NOT_ME_LIFETIME
    )
    if lock:  # two submissions of one link: the second finds the device forgotten
        query = query.with_for_update()
    return db.session.scalar(query)


def _named_account(token, *, lock: bool = False) -> tuple[User, OneTimeCode | None]:
    """The account a good link names, with the one-time-code row of a link sent before links
    named devices (good until it expires, 7 days: then that branch and those rows can go)."""
    device = _device_named_by(token, lock=lock)
    if device is not None:
        return db.session.get(User, device.user_id), None
    record = codes.find_token(NOT_ME, token, lock=lock)
    if record is None:
        raise _bad_link()
    return record.user, record


def check_not_me(token) -> User:
    return _named_account(token)[0]


def report_not_me(token, origin: Origin) -> User:
    """Someone else signed in: every session ends, every device is forgotten, and a reset
    link goes to the owner (the one place a reset link is sent without being asked for)."""
    from portal.flows.password_reset import RESET, reset_link

    user, old_link = _named_account(token, lock=True)
    if old_link is not None:
        old_link.used_at = clock.utcnow()
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
