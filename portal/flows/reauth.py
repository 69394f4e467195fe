"""Re-authentication before sensitive changes (DESIGN.md section 7).

Changing the email or password and deleting the account need proof given on *this* session
within the last 10 minutes: the password (a second factor joins it later). A stolen session
or access token alone can then never move or take the account. Wrong tries are counted on
the session, not on the owner's sign-in budget: 5 in a row end the session that tried.
"""

from datetime import timedelta

from portal import clock
from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, events, invalid
from portal.flows.sessions import revoke
from portal.flows.validation import plain_password
from portal.models import User, UserSession
from portal.passwords import verify_password

RECENT = timedelta(minutes=10)
MAX_FAILURES = 5


def is_recent(session: UserSession | None) -> bool:
    at = session.reauthenticated_at if session is not None else None
    return at is not None and clock.utcnow() - at < RECENT


def confirm_identity(
    user: User, session: UserSession | None, password, client: Client, *, field="password"
) -> None:
    """Check the password for a sensitive change; a missing one is fine only when this
    session proved itself in the last 10 minutes. Commits failures (and the session's end)."""
    password = plain_password(password)
    if not password:
        if is_recent(session):
            return
        raise invalid({field: ["Enter your password to confirm it's you."]})
    if verify_password(user.password_hash, password):
        if session is not None:
            session.reauthenticated_at = clock.utcnow()
            session.reauth_failures = 0
        return
    db.session.rollback()  # nothing of the refused change may be written with the failure
    failures = 1
    if session is not None:
        session.reauth_failures += 1
        failures = session.reauth_failures
    events.record("reauth_failed", user, client=client, session=session, tries=failures)
    if failures >= MAX_FAILURES:
        revoke(session, "Too many wrong passwords")
        events.record("session_ended_reauth", user, client=client, session=session)
        db.session.commit()
        raise FlowError(
            "session_ended",
            "Too many wrong passwords: this session was ended to protect the account. "
            "Sign in again.",
        )
    db.session.commit()
    wrong = "That is not your current password." if field == "current_password" else None
    raise invalid({field: [wrong or "That is not your password."]})
