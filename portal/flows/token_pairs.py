"""API tokens: a JWT pair per API session, refresh rotation and reuse detection (README "JSON API").

The session row is the source of truth. It remembers the jti of the one refresh token that may
be exchanged (`refresh_jti`) and the one it replaced (`previous_refresh_jti`, at
`refreshed_at`). Exchanging the current token rotates; the previous token within the grace
window answers with tokens for the current jti (a client that lost a response is not thrown
out); anything older is reuse of a token that may have been copied, so the session ends.
"""

import uuid
from dataclasses import dataclass

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.flows import FlowError, events
from portal.flows.accounts import notify
from portal.flows.sessions import next_expiry, revoke
from portal.models import User, UserSession
from portal.origin import Origin


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token is valid
    user: User
    session: UserSession


def _new_jti() -> str:
    return uuid.uuid4().hex


def _seconds(moment) -> int:
    return int(moment.timestamp())


def _pair(session: UserSession, user: User) -> TokenPair:
    """Sign an access token and a refresh token carrying the session's current refresh jti."""
    config = current_app.config
    now = clock.utcnow()  # the portal's clock, so tests can move time for tokens too
    access_lifetime = config["JWT_ACCESS_TOKEN_EXPIRES"]
    common = {
        "sid": str(session.id),
        "iat": _seconds(now),
        # Whose token and for what: portal/api/bearer.py refuses any other issuer or audience.
        "iss": config["PORTAL_BASE_URL"],
        "aud": config["API_TOKEN_AUDIENCE"],
    }
    access = create_access_token(
        identity=str(user.id),
        additional_claims={
            **common,
            "jti": _new_jti(),
            "exp": _seconds(now + access_lifetime),
            "email": user.email,
        },
    )
    refresh = create_refresh_token(
        identity=str(user.id),
        additional_claims={
            **common,
            "jti": session.refresh_jti,
            "exp": _seconds(session.expires_at),
        },
    )
    return TokenPair(access, refresh, int(access_lifetime.total_seconds()), user, session)


def issue_tokens(session: UserSession) -> TokenPair:
    """The first pair of a new API session (after sign-in or verification). The session was
    committed with its refresh jti (flows/sessions.py start_session); a session from before
    that gets one now."""
    if session.refresh_jti is None:
        session.refresh_jti = _new_jti()
        db.session.commit()
    return _pair(session, session.user)


def _invalid(message: str = "This token is not valid.") -> FlowError:
    return FlowError("invalid_token", message)


def _ended() -> FlowError:
    return FlowError("session_ended", "This session has ended. Sign in again.")


def refresh_tokens(claims: dict, origin: Origin) -> TokenPair:
    """Exchange a verified refresh token's claims for a new pair.

    The session row is locked (SELECT ... FOR UPDATE) for the whole decision, so two
    concurrent refreshes of one token are serialised: the first rotates, the second then sees
    the token as "previous, within grace" and gets the current pair without rotating again.
    """
    try:
        sid = uuid.UUID(str(claims.get("sid")))
    except ValueError:
        raise _invalid() from None
    jti = claims.get("jti")
    session = db.session.scalar(
        select(UserSession)
        .where(UserSession.id == sid)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if session is None or str(session.user_id) != claims.get("sub") or not jti:
        db.session.rollback()
        raise _invalid()
    user = session.user
    if session.kind != "api" or not session.is_active or not user.is_active:
        db.session.rollback()
        raise _ended()

    now = clock.utcnow()
    if jti == session.refresh_jti:
        session.previous_refresh_jti = session.refresh_jti
        session.refresh_jti = _new_jti()
        session.refreshed_at = now
        # Refreshing keeps the device signed in: another idle period, up to the maximum age.
        session.expires_at = next_expiry(session, now)
        session.last_seen_at = now
        session.ip_address = origin.ip_address[:64] or session.ip_address
        db.session.commit()
        return _pair(session, user)

    grace = current_app.config["REFRESH_REUSE_GRACE"]
    if (
        jti == session.previous_refresh_jti
        and session.refreshed_at is not None
        and now - session.refreshed_at <= grace
    ):
        db.session.commit()  # releases the lock; nothing changed
        return _pair(session, user)

    _reuse_detected(session, user, origin)
    raise FlowError(
        "session_ended",
        "This refresh token was already used, so the session was ended to protect the "
        "account. Sign in again.",
    )


def _reuse_detected(session: UserSession, user: User, origin: Origin) -> None:
    """An old refresh token came back: it may have been copied. End the session, tell them."""
    revoke(session, "Refresh token reused")
    events.record(
        "refresh_token_reused", user, origin=origin, session=session, device=session.device_label
    )
    notify(user, "token_reuse_alert", origin=origin, device=session.device_label)
    db.session.commit()
