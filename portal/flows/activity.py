"""Security activity: events in plain words, a page at a time (the Activity and admin pages)."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import SecurityEvent, User

PAGE_SIZE = 25

# Every kind the flows write, with a short label for filters and tables.
KINDS = {
    "signed_up": "Account created",
    "email_verified": "Email confirmed",
    "signed_in": "Signed in",
    "sign_in_failed": "Wrong password",
    "signed_out": "Signed out",
    "signed_out_everywhere": "Signed out everywhere",
    "session_ended": "Session ended",
    "other_sessions_ended": "Other sessions ended",
    "session_evicted": "Session ended: too many",
    "all_sessions_ended": "All sessions ended",
    "password_changed": "Password changed",
    "password_reset_requested": "Password reset requested",
    "password_reset_completed": "Password reset",
    "email_change_requested": "Email change requested",
    "email_changed": "Email changed",
    "username_changed": "Username changed",
    "refresh_token_reused": "App token reused",
    "account_disabled": "Account disabled",
    "account_enabled": "Account enabled",
    "account_deleted": "Account deleted",
    "admin_created": "Admin created",
    "admin_promoted": "Made an admin",
    "admin_demoted": "No longer an admin",
    "guessing_locked": "Sign-in locked: too many wrong tries",
    "account_unlocked": "Sign-in unlocked",
    "email_retried": "Failed email sent again",
    "reauth_failed": "Wrong password to confirm a change",
    "session_ended_reauth": "Session ended: wrong passwords",
    "not_me_reported": "“This wasn't me” reported",
    "mfa_enabled": "Two-step sign-in on",
    "mfa_disabled": "Two-step sign-in off",
    "mfa_reset": "Two-step sign-in reset",
    "recovery_codes_replaced": "New recovery codes",
    "recovery_code_used": "Recovery code used",
    "second_step_failed": "Wrong sign-in code",
    "passkey_added": "Passkey added",
    "passkey_renamed": "Passkey renamed",
    "passkey_removed": "Passkey removed",
    "passkey_sign_in_failed": "Passkey refused",
    "passkey_counter_refused": "Passkey refused: copied?",
    "reauthenticated": "Confirmed it's you with a passkey",
}

SIGN_IN_METHODS = {
    "email code": " with the emailed code",
    "totp": " with an authenticator code",
    "recovery_code": " with a recovery code",
    "passkey": " with a passkey",
}


@dataclass
class Page:
    """One page of a keyset-paginated list; a cursor is None where there is nothing more."""

    items: list
    next_cursor: object = None
    prev_cursor: object = None


def events_page(
    *,
    user: User | None = None,
    kind: str | None = None,
    before: int | None = None,
    after: int | None = None,
    limit: int | None = None,
) -> Page:
    """Events newest first. Keyset on id: `before` = older than the last one seen (next page),
    `after` = newer than the first one seen (previous page). One statement, actor included."""
    limit = limit or PAGE_SIZE  # read at call time, so tests can make pages small
    # Cursors come from URLs: anything outside a bigint is no cursor (never a database error).
    before, after = _cursor(before), _cursor(after)
    statement = select(SecurityEvent).options(joinedload(SecurityEvent.actor))
    if user is not None:
        statement = statement.where(SecurityEvent.user_id == user.id)
    if kind:
        statement = statement.where(SecurityEvent.kind == kind)
    if after is not None:
        older_first = statement.where(SecurityEvent.id > after).order_by(SecurityEvent.id)
        rows = list(db.session.scalars(older_first.limit(limit + 1)))
        items = rows[:limit][::-1]
        return Page(
            items,
            next_cursor=items[-1].id if items else None,
            prev_cursor=items[0].id if len(rows) > limit else None,
        )
    if before is not None:
        statement = statement.where(SecurityEvent.id < before)
    rows = list(db.session.scalars(statement.order_by(SecurityEvent.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    return Page(
        items,
        next_cursor=items[-1].id if len(rows) > limit else None,
        prev_cursor=items[0].id if before is not None and items else None,
    )


def _cursor(value) -> int | None:
    return value if isinstance(value, int) and 0 < value < 2**63 else None


def own_activity(user: User, *, before=None, after=None, limit: int | None = None) -> Page:
    """A person's own events, newest first."""
    return events_page(user=user, before=before, after=after, limit=limit)


def label(kind: str) -> str:
    return KINDS.get(kind) or kind.replace("_", " ").capitalize()


def _where(event: SecurityEvent) -> str:
    """'Firefox on Linux, 203.0.113.7', or whichever of the two is known."""
    return ", ".join(p for p in (event.device_label, event.ip_address) if p)


def _from(event: SecurityEvent) -> str:
    where = _where(event)
    return f" from {where}" if where else ""


def _because(data: dict) -> str:
    return f": {data['reason']}" if data.get("reason") else ""


def _sessions(count) -> str:
    try:
        n = int(count)
    except (TypeError, ValueError):
        return "sessions"
    return f"{n} session{'' if n == 1 else 's'}"


def describe(event: SecurityEvent, *, for_owner: bool = True) -> str:
    """One sentence about what happened. `for_owner` speaks to the account's owner ("your
    session") and never names the administrator; otherwise it reads for admins."""
    data = event.data or {}
    by_admin = event.actor_id is not None and event.actor_id != event.user_id
    who = ""
    if by_admin:
        who = (
            "An administrator"
            if for_owner
            else (event.actor.email if event.actor is not None else "A deleted administrator")
        )
    your = "your" if for_owner else "their"
    device = data.get("device") or "a device"
    kind = event.kind

    if kind == "signed_up":
        return f"Account created{_from(event)}"
    if kind == "email_verified":
        return f"Email address {event.email} confirmed{_from(event)}"
    if kind == "signed_in":
        via = SIGN_IN_METHODS.get(data.get("method"), "")
        if data.get("method") == "passkey" and data.get("name"):
            via = f" with the passkey “{data['name']}”"
        return f"Signed in{via}{_from(event)}"
    if kind.startswith(("mfa_", "recovery_", "second_step", "passkey_", "reauthenticated")):
        return _describe_second_factor(event, data, who if by_admin else "", your)
    if kind == "sign_in_failed":
        if event.user_id is None and data.get("login"):  # admins only: no account to show it
            return f"Wrong password for {data['login']}, which has no account{_from(event)}"
        return f"Wrong password entered{_from(event)}"
    if kind == "guessing_locked":
        return (
            f"Too many wrong passwords or codes: new tries must wait "
            f"{data.get('minutes', 15)} minutes (devices signed in before are not held back)"
        )
    if kind == "account_unlocked":
        actor = who if by_admin else "An operator"
        return f"{actor} cleared the sign-in lock"
    if kind == "reauth_failed":
        return f"Wrong password given to confirm a change{_from(event)}"
    if kind == "session_ended_reauth":
        return f"Session ended after 5 wrong passwords in a row{_from(event)}"
    if kind == "not_me_reported":
        return (
            f"Reported “this wasn't me”{_from(event)}: every session was signed out and a "
            "reset link was emailed"
        )
    if kind == "signed_out":
        return f"Signed out{' on ' + _where(event) if _where(event) else ''}"
    if kind == "signed_out_everywhere":
        return f"Signed out on every device ({_sessions(data.get('count'))}){_from(event)}"
    if kind == "session_ended":
        if by_admin:
            return f"{who} ended {your} session on {device}{_because(data)}"
        return f"Ended the session on {device}{_from(event)}"
    if kind == "session_evicted":
        return (
            f"Ended {your} least recently used session, on {device}, to make room for a new "
            f"sign-in{_from(event)} (too many active sessions)"
        )
    if kind == "other_sessions_ended":
        return f"Signed out {_sessions(data.get('count'))} on other devices{_from(event)}"
    if kind == "all_sessions_ended":
        actor = who if by_admin else "You"
        return f"{actor} ended all {your} sessions ({_sessions(data.get('count'))}){_because(data)}"
    if kind == "password_changed":
        return f"Password changed{_from(event)}; other sessions were signed out"
    if kind == "password_reset_requested":
        return f"Password reset link requested{_from(event)}"
    if kind == "password_reset_completed":
        return f"Password reset with an emailed link{_from(event)}; every session was signed out"
    if kind == "email_change_requested":
        return f"Asked to change the email address to {data.get('new', 'a new address')}"
    if kind == "email_changed":
        return f"Email address changed from {data.get('old', '?')} to {data.get('new', '?')}"
    if kind == "username_changed":
        return f"Username changed from {data.get('old', '?')} to {data.get('new', '?')}"
    if kind == "refresh_token_reused":
        on = f" for {data['device']}" if data.get("device") else ""
        return (
            f"An old app sign-in token{on} was used again{_from(event)}; "
            "that session was ended to be safe"
        )
    if kind == "account_disabled":
        actor = who if by_admin else "The portal"
        return f"{actor} disabled the account{_because(data)}; every session was signed out"
    if kind == "account_enabled":
        return f"{who if by_admin else 'The portal'} enabled the account again"
    if kind == "account_deleted":
        if by_admin:
            return f"{who} deleted the account {event.email}"
        return f"Account {event.email} deleted{_from(event)}"
    if kind == "admin_created":
        return "Admin account created from the command line"
    if kind in ("admin_promoted", "admin_demoted"):
        how = f" by {who[0].lower()}{who[1:]}" if by_admin else " from the command line"
        if kind == "admin_promoted":
            return f"Administrator rights given{how}"
        return f"Administrator rights taken away{how}"
    return f"{label(kind)}{_from(event)}"


def _describe_second_factor(event: SecurityEvent, data: dict, admin: str, your: str) -> str:
    """Authenticator app, recovery codes and passkeys (DESIGN.md section 8)."""
    kind, name = event.kind, data.get("name") or "a passkey"
    if kind == "mfa_enabled":
        return f"Two-step sign-in with an authenticator app turned on{_from(event)}"
    if kind == "mfa_disabled":
        return f"Two-step sign-in with an authenticator app turned off{_from(event)}"
    if kind == "mfa_reset":
        actor = admin or "An operator"
        return (
            f"{actor} reset two-step sign-in: authenticator app, recovery codes and passkeys "
            f"removed{_because(data)}"
        )
    if kind == "recovery_codes_replaced":
        return f"New recovery codes made{_from(event)}; the old ones no longer work"
    if kind == "recovery_code_used":
        left = data.get("left", "?")
        return f"A recovery code was used{_from(event)} ({left} left)"
    if kind == "second_step_failed":
        return f"Right password but a wrong sign-in code{_from(event)}"
    if kind == "passkey_added":
        return f"Passkey “{name}” added{_from(event)}"
    if kind == "passkey_renamed":
        return f"Passkey “{data.get('old', '?')}” renamed to “{data.get('new', '?')}”"
    if kind == "passkey_removed":
        if admin:
            return f"{admin} removed {your} passkey “{name}”{_because(data)}"
        return f"Passkey “{name}” removed{_from(event)}"
    if kind == "passkey_sign_in_failed":
        return f"A passkey sign-in was refused{_from(event)}"
    if kind == "passkey_counter_refused":
        return (
            f"The passkey “{name}” was refused{_from(event)}: its use counter went back, "
            "as a copied authenticator's would"
        )
    if kind == "reauthenticated":
        return f"Confirmed it's you with the passkey “{name}”{_from(event)}"
    return f"{label(kind)}{_from(event)}"
