"""Looking accounts up and mailing their owners, shared by the flows."""

import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Load

from portal import clock, outbox
from portal.extensions import db
from portal.flows import budget, devices, invalid
from portal.flows.validation import normalize_email
from portal.models import MFA_GROUP, Device, EmailSend, GuessBudget, User, uuid_text
from portal.origin import Origin

log = logging.getLogger(__name__)

# Emails anyone can make the portal send to an address, by typing it into a form: capped
# per address and per IP, so the portal can't be used to flood a mailbox
# (README "Rules worth knowing").
ANYONE_CAN_TRIGGER = ("verify_email", "account_exists", "reset_password", "email_change")
PER_ADDRESS_PER_HOUR = 3
PER_IP_PER_HOUR = 20


def find_by_email(email: str | None) -> User | None:
    if not email:
        return None
    return db.session.scalar(select(User).where(User.email == email))


# A sign-in's look-up, built once (bound per sign-in): the account, with its second factors and
# whether it has devices (User.has_devices); the device its token names, when it is that
# account's; and the guessing budget a wrong password would spend: the device's, else the
# account's, else the login's as typed (the keys of budget.key_for). One statement and one
# row (the one-row anchor), for known and unknown logins alike.
_ANCHOR = select(literal(1).label("one")).subquery("sign_in")
_SIGN_IN_LOOK_UP = (
    select(User, Device, GuessBudget.blocked_until)
    .select_from(_ANCHOR)
    .outerjoin(User, or_(User.email == bindparam("login"), User.username == bindparam("login")))
    .outerjoin(
        Device, and_(Device.user_id == User.id, Device.token_hash == bindparam("device_hash"))
    )
    .outerjoin(
        GuessBudget,
        GuessBudget.key
        == case(
            (Device.id.is_not(None), literal("device:") + uuid_text(Device.id)),
            (User.id.is_not(None), literal("user:") + uuid_text(User.id)),
            else_=bindparam("login_key", type_=String),
        ),
    )
    .options(Load(User).undefer(User.has_devices).undefer_group(MFA_GROUP))
)


def find_for_sign_in(
    login: str, device_token
) -> tuple[User | None, Device | None, datetime | None]:
    """By email or username (both stored lower-case): (account, device, until when the
    guessing budget holds sign-ins), each None when there is none (see above)."""
    row = db.session.execute(
        _SIGN_IN_LOOK_UP,
        {
            # PostgreSQL refuses NUL in text; no account could match such a login.
            "login": login if "\x00" not in login else "",
            "device_hash": devices.token_hash(device_token),
            "login_key": budget.for_login(login),
        },
    ).one()
    return row[0], row[1], row[2]


def recipient_hash(address: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"mail:{address.lower()}".encode(), hashlib.sha256).hexdigest()


def over_cap(to: str, kind: str, origin: Origin | None) -> bool:
    """True when `to` (or the IP asking) had its share of this kind of email this hour."""
    if kind not in ANYONE_CAN_TRIGGER:
        return False  # security notices are never dropped
    since = clock.utcnow() - timedelta(hours=1)
    recent = select(func.count()).where(
        EmailSend.kind.in_(ANYONE_CAN_TRIGGER), EmailSend.created_at > since
    )
    if db.session.scalar(recent.where(EmailSend.recipient_hash == recipient_hash(to))) >= (
        PER_ADDRESS_PER_HOUR
    ):
        return True
    ip = origin.ip_address if origin is not None else ""
    return bool(ip) and db.session.scalar(recent.where(EmailSend.ip_address == ip)) >= (
        PER_IP_PER_HOUR
    )


def send(
    to: str,
    kind: str,
    *,
    origin: Origin | None = None,
    capped: bool = True,
    expires_at=None,
    **context,
) -> bool:
    """Queue an email in the caller's transaction (the caller commits). Kinds anyone can
    trigger are dropped (False) past their caps, unless the owner asked from inside the
    account (`capped=False`). `expires_at`: a code or link dead by then is never sent."""
    if capped and over_cap(to, kind, origin):
        log.info("email_capped", extra={"kind": kind})
        return False
    outbox.enqueue_email(to, kind, expires_at=expires_at, **context)
    db.session.add(
        EmailSend(
            kind=kind,
            recipient_hash=recipient_hash(to),
            ip_address=(origin.ip_address if origin is not None else "")[:64],
        )
    )
    return True


def sign_in_facts(device: str, ip_address: str | None) -> dict:
    """How a notice names a sign-in (or a try): the device, the address, the time in UTC."""
    return {
        "device": device,
        "ip_address": ip_address or "an unknown address",
        "when": clock.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
    }


def queue_for_address(job: str, email, origin: Origin) -> None:
    """Check the address's form and queue `job` for it, committed. The job finds out whether
    an account or a sign-up is there, so what the request does (and how long it takes) is the
    same for every address."""
    email, problem = normalize_email(email)
    if problem:
        raise invalid({"email": [problem]})
    outbox.enqueue_job(job, origin, email=email)
    db.session.commit()


def notify(user: User, kind: str, *, origin: Origin | None = None, **context) -> None:
    """A security notice to the account's owner, in the caller's transaction: never capped,
    never dropped; notices to one address within 10 minutes are merged into one email."""
    outbox.enqueue_notice(user.email, kind, recipient_hash(user.email), user=user, **context)
