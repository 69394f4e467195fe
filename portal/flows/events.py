"""Security events: who did what, when and from where. Recording never breaks the action."""

import logging

from portal import metrics
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
        event = SecurityEvent(
            kind=kind[:40],
            user_id=user.id if user else None,
            email=(user.email if user else "")[:254],
            actor_id=actor.id if actor else None,
            session_id=session.id if session else None,
            ip_address=(origin.ip_address if origin else "")[:64],
            device_label=(origin.device if origin and origin.user_agent else "")[:128],
            data=safe,
        )
        db.session.add(event)
        metrics.count_event(kind, actor, data)  # counted when the flow commits
    except Exception:  # an audit record must not take the action it records down with it
        log.exception("security_event_failed", extra={"kind": kind})
