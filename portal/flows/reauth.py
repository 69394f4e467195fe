"""Re-authentication before sensitive changes (README "Rules worth knowing").

Changing the email or password, deleting the account and adding or removing a second factor
or passkey need proof given on *this* session within the last 10 minutes: the password, and
when the account has an authenticator app also one of its codes or a recovery code; or a
passkey with user verification (portal/flows/passkeys.py). A stolen session or access token,
or a stolen password, alone can then never move or take the account or weaken its sign-in.
Wrong tries are counted on the session, not on the owner's sign-in budget: 5 in a row end
the session that tried.
"""

from datetime import timedelta

from portal import clock
from portal.extensions import db
from portal.flows import FlowError, events, invalid
from portal.flows.sessions import revoke
from portal.flows.validation import plain_password
from portal.models import User, UserSession
from portal.origin import Origin
from portal.passwords import verify_password

RECENT = timedelta(minutes=10)
ASK_CODE = "Enter a code from your authenticator app, or a recovery code."
MAX_FAILURES = 5


def is_recent(session: UserSession | None) -> bool:
    at = session.reauthenticated_at if session is not None else None
    return at is not None and clock.utcnow() - at < RECENT


def confirm_identity(
    user: User,
    session: UserSession | None,
    password,
    origin: Origin,
    *,
    field="password",
    code=None,
    code_field="code",
) -> None:
    """Check the password (and, with an authenticator app on, `code`: one of its codes or a
    recovery code) for a sensitive change; a missing password is fine only when this session
    proved itself in the last 10 minutes. Commits failures (and the session's end); a right
    code is spent in the caller's transaction."""
    from portal.flows import totp  # totp's flows re-authenticate through here

    password = plain_password(password)
    if not password:
        if is_recent(session):
            return
        raise invalid({field: ["Enter your password to confirm it's you."]})
    if not totp.is_enabled(user):
        if not verify_password(user.password_hash, password):
            refuse(user, session, origin, {field: [_wrong_password(field)]})
        proven(session)
        return
    # Both are asked for before either is checked, and a refusal names both, so a stolen
    # session cannot learn which half was right.
    if not isinstance(code, str) or not code.strip():
        raise invalid(
            {code_field: ["Enter a code from your authenticator app, or a recovery code."]}
        )
    if not verify_password(user.password_hash, password) or (
        totp.check_second_factor(user, code) is None
    ):
        wrong = "That password or code is not right."
        refuse(user, session, origin, {field: [wrong], code_field: [wrong]})
    proven(session)


def proven(session: UserSession | None) -> None:
    """This session just proved who it is (password and code, or a passkey). Caller commits."""
    if session is not None:
        session.reauthenticated_at = clock.utcnow()
        session.reauth_failures = 0


def _wrong_password(field: str) -> str:
    if field == "current_password":
        return "That is not your current password."
    return "That is not your password."


def refuse(user: User, session: UserSession | None, origin: Origin, errors: dict):
    """A wrong password or code: counted on the session; the 5th in a row ends it."""
    db.session.rollback()  # nothing of the refused change may be written with the failure
    failures = 1
    if session is not None:
        session.reauth_failures += 1
        failures = session.reauth_failures
    events.record("reauth_failed", user, origin=origin, session=session, tries=failures)
    if failures >= MAX_FAILURES:
        revoke(session, "Too many wrong passwords")
        events.record("session_ended_reauth", user, origin=origin, session=session)
        db.session.commit()
        raise FlowError(
            "session_ended",
            "Too many wrong passwords: this session was ended to protect the account. "
            "Sign in again.",
        )
    db.session.commit()
    raise invalid(errors)


def prove_identity(user: User, session: UserSession | None, password, origin: Origin, *, code=None):
    """The pages' "confirm it's you" step: a proof on its own, good for 10 minutes of
    changes on this session. Commits."""
    if not plain_password(password):
        raise invalid({"password": ["Enter your password to confirm it's you."]})
    confirm_identity(user, session, password, origin, code=code)
    db.session.commit()


def minutes_left(session: UserSession | None) -> int:
    """Whole minutes before this session's proof of identity runs out (0: none)."""
    if not is_recent(session):
        return 0
    left = RECENT - (clock.utcnow() - session.reauthenticated_at)
    return max(1, int(left.total_seconds() // 60))
