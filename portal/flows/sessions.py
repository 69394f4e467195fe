"""Signed-in sessions (devices): start, list, end (DESIGN.md sections 3-4)."""

import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal import clock
from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, events
from portal.models import User, UserSession

# last_seen_at is written at most this often, so a busy session costs no write per request.
TOUCH_INTERVAL = timedelta(minutes=1)


def start_session(user: User, kind: str, client: Client) -> UserSession:
    """A new session row at every sign-in (never reuse one: no fixation). Caller commits."""
    lifetime = current_app.config[
        "WEB_SESSION_LIFETIME" if kind == "web" else "JWT_REFRESH_TOKEN_EXPIRES"
    ]
    now = clock.utcnow()
    session = UserSession(
        id=uuid.uuid4(),
        user=user,
        kind=kind,
        user_agent=client.user_agent[:512],
        device_label=client.device,
        ip_address=client.ip_address[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(session)
    user.last_login_at = now
    user.session = session
    return session


def load_active_session(session_id) -> tuple[UserSession, User] | None:
    """Session and user in one statement, only when both may still be used."""
    try:
        sid = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError:
        return None
    row = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == sid, UserSession.active_clause(), User.is_active.is_(True))
    ).first()
    if row is None:
        return None
    session, user = row
    user.session = session
    return session, user


def ended_message(session_id) -> str:
    """Why a browser's session stopped working, in words for the person holding it."""
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        return "You were signed out. Sign in again."
    reason, revoked_at = db.session.execute(
        select(UserSession.revoked_reason, UserSession.revoked_at).where(UserSession.id == sid)
    ).first() or (None, None)
    if revoked_at is None:
        # Expired, or gone with a deleted account.
        return "Your session has ended. Sign in again."
    reason = (reason or "ended").rstrip(".")
    return f"You were signed out on this device ({reason[:1].lower()}{reason[1:]})."


def touch(session: UserSession, client: Client) -> None:
    """Note activity, at most once a minute (commits its own small update)."""
    now = clock.utcnow()
    if now - session.last_seen_at < TOUCH_INTERVAL:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session.id)
        .values(last_seen_at=now, ip_address=client.ip_address[:64] or session.ip_address)
    )
    db.session.commit()


def active_sessions(user: User) -> list[UserSession]:
    """Every active session of a user, newest first (one statement)."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.active_clause())
            .order_by(UserSession.created_at.desc(), UserSession.id)
        )
    )


def revoke(session: UserSession, reason: str) -> None:
    if session.revoked_at is None:
        session.revoked_at = clock.utcnow()
        session.revoked_reason = reason[:200]


def revoke_all(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every active session of `user` (but `keep`) in one statement. Caller commits."""
    query = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.active_clause())
        .values(revoked_at=clock.utcnow(), revoked_reason=reason[:200])
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    return db.session.execute(query).rowcount


def get_own_session(user: User, session_id) -> UserSession:
    """One active session of this user; anyone else's is 'not found', never 'forbidden'."""
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        raise FlowError("not_found", "That session does not exist.") from None
    session = db.session.scalar(
        select(UserSession).where(
            UserSession.id == sid, UserSession.user_id == user.id, UserSession.active_clause()
        )
    )
    if session is None:
        raise FlowError("not_found", "That session does not exist or has already ended.")
    return session


def end_session(user: User, session_id, client: Client) -> UserSession:
    """The user ends one of their sessions (this device or another)."""
    session = get_own_session(user, session_id)
    revoke(session, "Ended by you")
    events.record(
        "session_ended", user, client=client, session=session, device=session.device_label
    )
    db.session.commit()
    return session


def end_other_sessions(user: User, current: UserSession, client: Client) -> int:
    count = revoke_all(user, "Ended by you", keep=current)
    events.record("other_sessions_ended", user, client=client, session=current, count=count)
    db.session.commit()
    return count
