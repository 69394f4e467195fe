"""`flask --app portal maintenance prune`: remove what no one needs any more (README "Operations").

Each rule deletes in batches (one short transaction each), so it is safe while serving and
can be stopped and run again at any time: what is left simply waits for the next run."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, delete, or_, select

from portal import clock
from portal.extensions import db
from portal.models import (
    Device,
    EmailSend,
    GuessBudget,
    MfaToken,
    OneTimeCode,
    OutboxMessage,
    PendingSignUp,
    SecurityEvent,
    UserSession,
    WebAuthnChallenge,
)

BATCH = 1000
ENDED_SESSIONS_KEPT = timedelta(days=30)  # still shown to admins who look into an incident
OUTBOX_KEPT = timedelta(days=7)
FAILED_OUTBOX_KEPT = timedelta(days=30)  # admins may want to see why, and retry
DEVICE_FORGOTTEN = timedelta(days=400)  # the device cookie's own lifetime
SPENT_SHORT_LIVED = timedelta(days=1)  # budgets, caps, challenges: a day after they end


@dataclass(frozen=True)
class Rule:
    name: str
    model: type
    key: object  # the primary-key column batches are picked by
    where: object


def rules() -> Iterator[Rule]:
    now = clock.utcnow()
    retention = timedelta(days=int(current_app.config["EVENT_RETENTION_DAYS"]))
    yield Rule(
        "sessions ended or expired over 30 days ago",
        UserSession,
        UserSession.id,
        or_(
            UserSession.revoked_at < now - ENDED_SESSIONS_KEPT,
            UserSession.expires_at < now - ENDED_SESSIONS_KEPT,
        ),
    )
    yield Rule(
        "used or expired codes and links",
        OneTimeCode,
        OneTimeCode.id,
        or_(OneTimeCode.used_at.is_not(None), OneTimeCode.expires_at < now),
    )
    yield Rule(
        "expired pending sign-ups", PendingSignUp, PendingSignUp.id, PendingSignUp.expires_at < now
    )
    yield Rule(
        f"security events older than {retention.days} days",
        SecurityEvent,
        SecurityEvent.id,
        SecurityEvent.created_at < now - retention,
    )
    yield Rule(
        "delivered or dropped emails after 7 days, failed ones after 30",
        OutboxMessage,
        OutboxMessage.id,
        or_(
            and_(
                OutboxMessage.status.in_(("sent", "dropped")),
                OutboxMessage.created_at < now - OUTBOX_KEPT,
            ),
            and_(
                OutboxMessage.status == "failed",
                OutboxMessage.created_at < now - FAILED_OUTBOX_KEPT,
            ),
        ),
    )
    yield Rule(
        "email counts older than a day (the caps look back an hour)",
        EmailSend,
        EmailSend.id,
        EmailSend.created_at < now - SPENT_SHORT_LIVED,
    )
    yield Rule(
        "guessing budgets with nothing to remember",
        GuessBudget,
        GuessBudget.key,
        and_(
            GuessBudget.day_started_at < now - SPENT_SHORT_LIVED,
            or_(GuessBudget.blocked_until.is_(None), GuessBudget.blocked_until < now),
        ),
    )
    yield Rule(
        "devices unused for 400 days",
        Device,
        Device.id,
        and_(Device.last_used_at < now - DEVICE_FORGOTTEN, Device.kind != "void"),
    )
    for what, model in (
        ("second-step tokens", MfaToken),
        ("passkey challenges", WebAuthnChallenge),
    ):
        yield Rule(
            f"{what} a day after they ended",
            model,
            model.id,
            model.expires_at < now - SPENT_SHORT_LIVED,
        )


def prune(batch: int = BATCH, report=lambda name, count: None) -> dict[str, int]:
    """Apply every rule in batches; returns (and reports) how many rows each removed."""
    removed: dict[str, int] = {}
    for rule in rules():
        total = 0
        while True:
            keys = select(rule.key).where(rule.where).limit(batch)
            # FOR UPDATE SKIP LOCKED on PostgreSQL: rows a request is using wait for next time.
            if db.session.get_bind().dialect.name == "postgresql":
                keys = keys.with_for_update(skip_locked=True)
            chosen = list(db.session.scalars(keys))
            if not chosen:
                break
            db.session.execute(
                delete(rule.model)
                .where(rule.key.in_(chosen))
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            total += len(chosen)
            if len(chosen) < batch:
                break
        removed[rule.name] = total
        report(rule.name, total)
    return removed
