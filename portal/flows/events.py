"""Security events: who did what, when and from where. Recording never breaks the action."""

import logging

from portal.client import Client
from portal.extensions import db
from portal.models import SecurityEvent, User, UserSession

log = logging.getLogger(__name__)

# Values that must never be stored with an event, whatever a caller passes.
_FORBIDDEN_KEYS = {"password", "code", "token", "refresh_token", "access_token", "secret"}


def record(
    kind: str,
    user: User | None,
    *,
    client: Client | None = None,
    actor: User | None = None,
    session: UserSession | None = None,
    **data,
) -> None:
    """Add an event to the current transaction; the flow's commit writes it."""
    try:
        if (user is not None and user.id is None) or (session is not None and session.id is None):
            db.session.flush()  # ids are assigned at flush
        safe = {k: (str(v)[:200] if v is not None else None) for k, v in data.items()}
        for key in _FORBIDDEN_KEYS & safe.keys():
            del safe[key]
        event = SecurityEvent(
            kind=kind,
            user_id=user.id if user else None,
            email=(user.email if user else "")[:254],
            actor_id=actor.id if actor else None,
            session_id=session.id if session else None,
            ip_address=(client.ip_address if client else "")[:64],
            device_label=(client.device if client and client.user_agent else "")[:128],
            data=safe,
        )
        db.session.add(event)
    except Exception:  # an audit record must not take the action it records down with it
        log.exception("security_event_failed", extra={"kind": kind})
