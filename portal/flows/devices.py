"""Known devices: browsers and apps that completed a sign-in (README "Rules worth knowing").

A browser keeps one random token in a signed cookie, an app keeps the `device_token` the
API returned; only a keyed hash of the token is stored, one row per account it signed in to.
A known device has its own guessing budget for that account, and a sign-in from an unknown
one is announced to the owner. A password reset or "this wasn't me" voids them all.
"""

import hashlib
import hmac
import secrets
import uuid

from flask import current_app
from sqlalchemy import delete, select

from portal import clock, one_time_secrets
from portal.extensions import db
from portal.flows.sessions import TOUCH_INTERVAL
from portal.models import Device, User
from portal.origin import Origin


def _hash(token: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"device:{token}".encode(), hashlib.sha256).hexdigest()


def _plausible(token) -> bool:
    return isinstance(token, str) and 20 <= len(token) <= 128 and token.isascii()


def token_hash(token) -> str | None:
    """What a device's row holds for this token; None for what no device could hold."""
    return _hash(token) if _plausible(token) else None


def find(user: User | None, token) -> Device | None:
    """The device this token names for this account, or None."""
    hashed = token_hash(token)
    if user is None or hashed is None:
        return None
    return db.session.scalar(
        select(Device).where(Device.token_hash == hashed, Device.user_id == user.id)
    )


# `remember(known=...)` default: the caller has not looked the token up (None would mean
# "looked up, no such device").
NOT_LOOKED_UP = object()


def remember(
    user: User, kind: str, origin: Origin, token=None, *, known=NOT_LOOKED_UP
) -> tuple[Device, str, bool]:
    """After a completed sign-in: (device, its token, whether to announce it: new to an
    account that already has known devices). The first device of an account (a new account,
    or one from before devices were remembered) becomes known quietly, so that turning this
    on does not mail every owner. A browser's token is kept for every account it signs in
    to. `known`: what the caller's own `find(user, token)` answered, so the token is not
    looked up twice. Caller commits."""
    if not _plausible(token):
        token, device = one_time_secrets.new_token(), None  # a token made just now names no device
    elif known is NOT_LOOKED_UP:
        device = find(user, token)
    else:
        device = known if known is not None and known.user_id == user.id else None
    now = clock.utcnow()
    if device is not None:
        # Its last use to the minute, like a session's last use and an account's last
        # sign-in (flows/sessions.py TOUCH_INTERVAL): sign-ins from one device in a burst do
        # not each rewrite its row. What it is forgotten by counts in days (prune.py).
        if now - device.last_used_at >= TOUCH_INTERVAL:
            device.last_used_at = now
        if device.device_label != origin.device:
            device.device_label = origin.device
        return device, token, False
    # Read before this device is added (from the account's own look-up, when it made one).
    has_others = user.has_devices
    device = Device(
        id=uuid.uuid4(),  # set here, so the session can name it before anything is written
        user_id=user.id,
        token_hash=_hash(token),
        kind=kind,
        device_label=origin.device,
        created_at=now,
        last_used_at=now,
    )
    db.session.add(device)
    return device, token, has_others


def void_all(user: User) -> int:
    """Forget every device of the account (password reset, "this wasn't me"). A tombstone row
    that no token matches stays, so the next sign-in, from wherever, is announced (only an
    account's very first device is known quietly). Caller commits."""
    count = db.session.execute(
        delete(Device).where(Device.user_id == user.id).execution_options(synchronize_session=False)
    ).rowcount
    db.session.add(
        Device(
            user_id=user.id,
            token_hash=secrets.token_hex(32),  # the hash of no token
            kind="void",
            device_label="Devices forgotten",
        )
    )
    return count
