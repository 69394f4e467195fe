"""Security events: who did what, when and from where. Recording never breaks the action.

An event is a row, not a model object the request keeps: the events of a transaction are
written by its commit, after everything else, in one INSERT (as model objects each was half
a millisecond of the unit of work; nothing reads an event back in the transaction that
records it). A rollback drops them with the rest."""

import logging

from flask_sqlalchemy.session import Session
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import insert, inspect

from portal import clock, metrics
from portal.extensions import db
from portal.models import SecurityEvent, User, UserSession
from portal.origin import Origin

log = logging.getLogger(__name__)

# Data keys that must never be stored with an event, whatever a caller passes: any key whose
# name contains one of these (new_password, reset_token, verification_code, ...).
_SECRET_WORDS = ("password", "code", "token", "secret")
MAX_VALUE = 254  # long enough for an email address


def record(
    kind: str,
    user: User | None,
    *,
    origin: Origin | None = None,
    actor: User | None = None,
    session: UserSession | None = None,
    **data,
) -> None:
    """Add an event to the current transaction; the flow's commit writes it."""
    try:
        if (user is not None and user.id is None) or (session is not None and session.id is None):
            db.session.flush()  # ids are assigned at flush
        safe = {
            key: (str(value)[:MAX_VALUE] if value is not None else None)
            for key, value in data.items()
            if not any(word in key.lower() for word in _SECRET_WORDS)
        }
        row = {
            "kind": kind[:40],
            "user_id": user.id if user else None,
            "email": (user.email if user else "")[:254],
            "actor_id": actor.id if actor else None,
            "session_id": session.id if session else None,
            "ip_address": (origin.ip_address if origin else "")[:64],
            "device_label": (origin.device if origin and origin.user_agent else "")[:128],
            "data": safe,
            "created_at": clock.utcnow(),
        }
        db.session().info.setdefault(_RECORDED, []).append(row)
        metrics.count_event(kind, actor, data)  # counted when the flow commits
    except Exception:  # an audit record must not take the action it records down with it
        log.exception("security_event_failed", extra={"kind": kind})


_RECORDED = "security_events"  # the key of a session's recorded rows in Session.info
_GONE = "security_events_gone"  # ids of accounts this transaction deleted
_INSERT = insert(SecurityEvent.__table__)


@sqlalchemy_event.listens_for(Session, "before_commit")
def _write_recorded(session) -> None:
    if not session.info.get(_RECORDED):
        return
    session.flush()  # the accounts and sessions they name are written first
    rows, gone = session.info.pop(_RECORDED), session.info.get(_GONE, ())
    for row in rows:  # what the foreign keys' ON DELETE SET NULL does for older events
        for key in ("user_id", "actor_id"):
            if row[key] in gone:
                row[key] = None
    session.connection().execute(_INSERT, rows)


@sqlalchemy_event.listens_for(Session, "persistent_to_deleted")
def _note_deleted_account(session, instance) -> None:
    if isinstance(instance, User):  # its id from its identity: its row is gone, unreadable
        session.info.setdefault(_GONE, set()).add(inspect(instance).identity[0])


@sqlalchemy_event.listens_for(Session, "after_transaction_end")
def _drop_unwritten(session, transaction) -> None:
    if transaction.parent is None:  # the outermost: committed, rolled back or closed
        session.info.pop(_RECORDED, None)
        session.info.pop(_GONE, None)
