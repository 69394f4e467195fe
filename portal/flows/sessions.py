"""Signed-in sessions (devices): start, list, end, time out (README "Rules worth knowing")."""

import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Load
from sqlalchemy.orm.attributes import set_committed_value

from portal import clock
from portal.extensions import commit_keeping_loaded, db
from portal.flows import FlowError, events, invalid
from portal.models import MFA_GROUP, User, UserSession, uuid_text
from portal.origin import Origin
from portal.pagination import BadCursor, Page, keyset_page

# last_seen_at is written at most this often, so a busy session costs no write per request;
# and an account's last_login_at likewise, so that sign-ins to one account in a burst (an app
# gone wrong, a password tried from everywhere) do not each rewrite the account's row and wait
# on its lock.
TOUCH_INTERVAL = timedelta(minutes=1)
TOO_MANY = "Too many active sessions"


def start_session(user: User, kind: str, origin: Origin, **columns) -> UserSession:
    """A new session row at every sign-in (never reuse one: no fixation); past the cap of
    active sessions, the least recently used other one ends. Caller commits."""
    now = clock.utcnow()
    session = UserSession(
        id=uuid.uuid4(),
        user=user,
        kind=kind,
        user_agent=origin.user_agent[:512],
        device_label=origin.device,
        ip_address=origin.ip_address[:64],
        created_at=now,
        last_seen_at=now,
        # An app's session carries the jti of the refresh token it may exchange (flows/
        # token_pairs.py), written with the sign-in itself: one commit, not two.
        refresh_jti=uuid.uuid4().hex if kind == "api" else None,
        **columns,
    )
    session.expires_at = next_expiry(session, now)
    db.session.add(session)
    if user.last_login_at is None or now - user.last_login_at >= TOUCH_INTERVAL:
        user.last_login_at = now
    user.current_session = session
    _end_least_recently_used(user, session, origin)
    return session


def next_expiry(session: UserSession, now: datetime) -> datetime:
    """When a session used (web) or refreshed (API) at `now` ends if nothing else happens:
    after the idle time, and never later than its maximum age (README "Rules worth knowing")."""
    prefix = "WEB" if session.kind == "web" else "API"
    idle = current_app.config[f"{prefix}_SESSION_IDLE"]
    lifetime = current_app.config[f"{prefix}_SESSION_LIFETIME"]
    return min(now + idle, session.created_at + lifetime)


# Past the cap, the least recently used others end in one UPDATE, whatever their number (a
# sign-in costs the same with 2 sessions or 2,000). Built once, bound at each sign-in:
# composing it again was a third of this step's time. It answers with the ended sessions' id
# and device label only, which is all their events need.
_sessions = UserSession.__table__
_END_LEAST_RECENTLY_USED = (
    update(_sessions)
    .where(
        _sessions.c.id.in_(
            select(_sessions.c.id)
            .where(
                _sessions.c.user_id == bindparam("account"),
                _sessions.c.id != bindparam("new_id"),
                UserSession.active_clause(bindparam("now")),
            )
            .order_by(_sessions.c.last_seen_at.desc(), _sessions.c.created_at.desc())
            .offset(bindparam("kept"))
        )
    )
    .values(revoked_at=bindparam("now"), revoked_reason=TOO_MANY)
    .returning(_sessions.c.id, _sessions.c.device_label)
)


def _end_least_recently_used(user: User, new: UserSession, origin: Origin) -> None:
    """Keep at most MAX_ACTIVE_SESSIONS active."""
    if user.id is None:
        return  # not in the database yet, so no sessions either
    kept = max(current_app.config["MAX_ACTIVE_SESSIONS"] - 1, 0)
    ended = db.session.execute(
        _END_LEAST_RECENTLY_USED,
        {"account": user.id, "new_id": new.id, "now": clock.utcnow(), "kept": kept},
    ).all()
    for session in ended:
        events.record(
            "session_evicted", user, origin=origin, session=session, device=session.device_label
        )


# Every authenticated request runs this statement: built once (its parameters bound at
# execution), not composed again per request.
_ACTIVE_SESSION_AND_USER = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.id == bindparam("sid"),
        UserSession.active_clause(bindparam("now")),
        User.is_active.is_(True),
    )
)


# The same with the account's second-factor summary, for the requests that show it.
_ACTIVE_SESSION_AND_USER_WITH_MFA = _ACTIVE_SESSION_AND_USER.options(
    Load(User).undefer_group(MFA_GROUP)
)


def load_active_session(
    session_id, *, mfa_summary: bool = False
) -> tuple[UserSession, User] | None:
    """Session and user in one statement, only when both may still be used (the same test as
    UserSession.active_clause). `mfa_summary`: with the account's second-factor summary (its
    three subqueries are most of the statement's work in PostgreSQL); without it, reading
    the summary costs one more statement."""
    try:
        sid = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError:
        return None
    statement = _ACTIVE_SESSION_AND_USER_WITH_MFA if mfa_summary else _ACTIVE_SESSION_AND_USER
    row = db.session.execute(statement, {"sid": sid, "now": clock.utcnow()}).first()
    if row is None:
        return None
    session, user = row
    user.current_session = session
    return session, user


def ended_message(session_id) -> str:
    """Why a browser's session stopped working, in words for the person holding it."""
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        return "You were signed out. Sign in again."
    row = db.session.execute(
        select(
            UserSession.revoked_reason,
            UserSession.revoked_at,
            UserSession.created_at,
            UserSession.expires_at,
        ).where(UserSession.id == sid)
    ).first()
    if row is None:
        return "Your session has ended. Sign in again."  # gone with a deleted account
    reason, revoked_at, created_at, expires_at = row
    if revoked_at is None and expires_at > clock.utcnow():
        return "Your session has ended. Sign in again."  # the account was disabled
    if revoked_at is None:
        config = current_app.config
        lifetime = config["WEB_SESSION_LIFETIME"]
        if expires_at >= created_at + lifetime:
            return f"You were signed out: a sign-in lasts {_span(lifetime)} at most. Sign in again."
        idle = config["WEB_SESSION_IDLE"]
        return f"You were signed out after {_span(idle)} without use. Sign in again."
    reason = (reason or "ended").rstrip(".")
    return f"You were signed out on this device ({reason[:1].lower()}{reason[1:]})."


def _span(delta: timedelta) -> str:
    """'3 days', or '6 hours' when it is not whole days (tests shorten the rules)."""
    if delta % timedelta(days=1):
        number, unit = int(delta.total_seconds() // 3600), "hour"
    else:
        number, unit = delta.days, "day"
    return f"{number} {unit}{'' if number == 1 else 's'}"


def touch(session: UserSession, origin: Origin) -> None:
    """Note activity, at most once a minute (commits its own small update). A web session's
    idle time starts again; an API session's only with a refresh (flows/token_pairs.py)."""
    now = clock.utcnow()
    if now - session.last_seen_at < TOUCH_INTERVAL:
        return
    values = {"last_seen_at": now, "ip_address": origin.ip_address[:64] or session.ip_address}
    if session.kind == "web":
        values["expires_at"] = next_expiry(session, now)
    db.session.execute(update(UserSession).where(UserSession.id == session.id).values(**values))
    # What was loaded stays loaded (the request answers from it, as it would without this
    # write): the session takes the values just written, nothing is read back.
    commit_keeping_loaded()
    for name, value in values.items():
        set_committed_value(session, name, value)


def active_sessions(user: User) -> list[UserSession]:
    """Every active session of a user, newest first (one statement)."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.active_clause())
            .order_by(UserSession.created_at.desc(), UserSession.id)
        )
    )


SESSIONS_PAGE = 25  # the Sessions page, as the Activity page and the admin lists
API_SESSIONS_PAGE = 100  # GET /sessions: every session under the cap by default


# The sessions list (page and API) on every view: built once (pagination.read), and only
# what a list shows (api/schemas.py SessionOut, templates/sessions/index.html), as rows:
# a list of 100 sessions cost 70 us a session as model objects.
# Ids come as text: both lists write them out (links, JSON) and compare them with this
# session's. Rows in PostgreSQL's binary format (portal/database.py): up to 101 of them.
_ACTIVE_SESSIONS_OF = (
    select(
        uuid_text(UserSession.id).label("id"),
        UserSession.kind,
        UserSession.device_label,
        UserSession.ip_address,
        UserSession.created_at,
        UserSession.last_seen_at,
        UserSession.expires_at,
    )
    .where(
        UserSession.user_id == bindparam("user_id"),
        UserSession.active_clause(bindparam("now")),
    )
    .execution_options(binary_results=True)
)
_NEWEST_FIRST = (UserSession.created_at.desc(), UserSession.id.desc())


def sessions_page(user: User, cursor: str | None = None, limit: int = SESSIONS_PAGE) -> Page:
    """Active sessions, newest first, a page at a time (keyset on created_at and id, read in
    index order: the cost doesn't grow with the number of sessions). `cursor` is the last
    page's `next_cursor`; one this list did not write is a FlowError (validation_error),
    never a database error."""
    try:
        return keyset_page(
            _ACTIVE_SESSIONS_OF,
            _NEWEST_FIRST,
            limit,
            after=cursor or None,
            params={"user_id": user.id, "now": clock.utcnow()},
        )
    except BadCursor:
        raise invalid(
            {"cursor": ["That page link is not valid. Start from the first page."]}
        ) from None


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


def end_session(user: User, session_id, origin: Origin) -> UserSession:
    """The user ends one of their sessions (this device or another)."""
    session = get_own_session(user, session_id)
    revoke(session, "Ended by you")
    events.record(
        "session_ended", user, origin=origin, session=session, device=session.device_label
    )
    db.session.commit()
    return session


def end_other_sessions(user: User, current: UserSession, origin: Origin) -> int:
    count = revoke_all(user, "Ended by you", keep=current)
    events.record("other_sessions_ended", user, origin=origin, session=current, count=count)
    db.session.commit()
    return count
