"""Security activity: events in plain words, a page at a time (the Activity and admin pages)."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.models import SecurityEvent, User
from portal.pagination import Page, keyset_page_or_first

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


def events_page(
    *,
    user: User | None = None,
    kind: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> Page:
    """Events newest first, a page at a time (keyset on id): `after` is the cursor of the
    next (older) page, `before` of the previous (newer) one. One statement, actor included.
    A cursor from a URL that this list did not write shows the first page."""
    limit = limit or PAGE_SIZE  # read at call time, so tests can make pages small
    statement = select(SecurityEvent).options(joinedload(SecurityEvent.actor))
    if user is not None:
        statement = statement.where(SecurityEvent.user_id == user.id)
    if kind:
        statement = statement.where(SecurityEvent.kind == kind)
    keys = [SecurityEvent.id.desc()]
    return keyset_page_or_first(statement, keys, limit, after=after, before=before)


def own_activity(user: User, *, after=None, before=None, limit: int | None = None) -> Page:
    """A person's own events, newest first."""
    return events_page(user=user, after=after, before=before, limit=limit)


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


@dataclass
class _Told:
    """What a sentence about one event may need: its data, where it came from, and who acted
    (`who` is the administrator, or "" when the owner or the portal did it)."""

    event: SecurityEvent
    data: dict
    who: str
    your: str

    @property
    def at(self) -> str:
        return _from(self.event)

    @property
    def device(self) -> str:
        return self.data.get("device") or "a device"

    @property
    def because(self) -> str:
        return _because(self.data)

    @property
    def sessions(self) -> str:
        return _sessions(self.data.get("count"))

    def old_to_new(self) -> str:
        return f"from {self.data.get('old', '?')} to {self.data.get('new', '?')}"

    @property
    def passkey(self) -> str:
        return self.data.get("name") or "a passkey"


def _signed_in(t: _Told) -> str:
    via = SIGN_IN_METHODS.get(t.data.get("method"), "")
    if t.data.get("method") == "passkey" and t.data.get("name"):
        via = f" with the passkey “{t.data['name']}”"
    return f"Signed in{via}{t.at}"


def _sign_in_failed(t: _Told) -> str:
    if t.event.user_id is None and t.data.get("login"):  # admins only: no account to show it
        return f"Wrong password for {t.data['login']}, which has no account{t.at}"
    return f"Wrong password entered{t.at}"


def _signed_out(t: _Told) -> str:
    where = _where(t.event)
    return f"Signed out{' on ' + where if where else ''}"


def _session_ended(t: _Told) -> str:
    if t.who:
        return f"{t.who} ended {t.your} session on {t.device}{t.because}"
    return f"Ended the session on {t.device}{t.at}"


def _account_deleted(t: _Told) -> str:
    if t.who:
        return f"{t.who} deleted the account {t.event.email}"
    return f"Account {t.event.email} deleted{t.at}"


def _admin_rights(given: bool):
    def told(t: _Told) -> str:
        how = f" by {t.who[0].lower()}{t.who[1:]}" if t.who else " from the command line"
        return f"Administrator rights {'given' if given else 'taken away'}{how}"

    return told


def _refresh_token_reused(t: _Told) -> str:
    on = f" for {t.data['device']}" if t.data.get("device") else ""
    return f"An old app sign-in token{on} was used again{t.at}; that session was ended to be safe"


def _passkey_removed(t: _Told) -> str:
    if t.who:
        return f"{t.who} removed {t.your} passkey “{t.passkey}”{t.because}"
    return f"Passkey “{t.passkey}” removed{t.at}"


# Event kind -> its sentence. A kind missing here reads as its label and where it came from.
WORDING = {
    "signed_up": lambda t: f"Account created{t.at}",
    "email_verified": lambda t: f"Email address {t.event.email} confirmed{t.at}",
    "signed_in": _signed_in,
    "sign_in_failed": _sign_in_failed,
    "guessing_locked": lambda t: (
        f"Too many wrong passwords or codes: new tries must wait "
        f"{t.data.get('minutes', 15)} minutes (devices signed in before are not held back)"
    ),
    "account_unlocked": lambda t: f"{t.who or 'An operator'} cleared the sign-in lock",
    "reauth_failed": lambda t: f"Wrong password given to confirm a change{t.at}",
    "session_ended_reauth": lambda t: f"Session ended after 5 wrong passwords in a row{t.at}",
    "not_me_reported": lambda t: (
        f"Reported “this wasn't me”{t.at}: every session was signed out and a "
        "reset link was emailed"
    ),
    "signed_out": _signed_out,
    "signed_out_everywhere": lambda t: f"Signed out on every device ({t.sessions}){t.at}",
    "session_ended": _session_ended,
    "session_evicted": lambda t: (
        f"Ended {t.your} least recently used session, on {t.device}, to make room for a new "
        f"sign-in{t.at} (too many active sessions)"
    ),
    "other_sessions_ended": lambda t: f"Signed out {t.sessions} on other devices{t.at}",
    "all_sessions_ended": lambda t: (
        f"{t.who or 'You'} ended all {t.your} sessions ({t.sessions}){t.because}"
    ),
    "password_changed": lambda t: f"Password changed{t.at}; other sessions were signed out",
    "password_reset_requested": lambda t: f"Password reset link requested{t.at}",
    "password_reset_completed": lambda t: (
        f"Password reset with an emailed link{t.at}; every session was signed out"
    ),
    "email_change_requested": lambda t: (
        f"Asked to change the email address to {t.data.get('new', 'a new address')}"
    ),
    "email_changed": lambda t: f"Email address changed {t.old_to_new()}",
    "username_changed": lambda t: f"Username changed {t.old_to_new()}",
    "refresh_token_reused": _refresh_token_reused,
    "account_disabled": lambda t: (
        f"{t.who or 'The portal'} disabled the account{t.because}; every session was signed out"
    ),
    "account_enabled": lambda t: f"{t.who or 'The portal'} enabled the account again",
    "account_deleted": _account_deleted,
    "admin_created": lambda t: "Admin account created from the command line",
    "admin_promoted": _admin_rights(given=True),
    "admin_demoted": _admin_rights(given=False),
    # Second factors: authenticator app, recovery codes, passkeys.
    "mfa_enabled": lambda t: f"Two-step sign-in with an authenticator app turned on{t.at}",
    "mfa_disabled": lambda t: f"Two-step sign-in with an authenticator app turned off{t.at}",
    "mfa_reset": lambda t: (
        f"{t.who or 'An operator'} reset two-step sign-in: authenticator app, recovery codes "
        f"and passkeys removed{t.because}"
    ),
    "recovery_codes_replaced": lambda t: (
        f"New recovery codes made{t.at}; the old ones no longer work"
    ),
    "recovery_code_used": lambda t: (
        f"A recovery code was used{t.at} ({t.data.get('left', '?')} left)"
    ),
    "second_step_failed": lambda t: f"Right password but a wrong sign-in code{t.at}",
    "passkey_added": lambda t: f"Passkey “{t.passkey}” added{t.at}",
    "passkey_renamed": lambda t: (
        f"Passkey “{t.data.get('old', '?')}” renamed to “{t.data.get('new', '?')}”"
    ),
    "passkey_removed": _passkey_removed,
    "passkey_sign_in_failed": lambda t: f"A passkey sign-in was refused{t.at}",
    "passkey_counter_refused": lambda t: (
        f"The passkey “{t.passkey}” was refused{t.at}: its use counter went back, "
        "as a copied authenticator's would"
    ),
    "reauthenticated": lambda t: f"Confirmed it's you with the passkey “{t.passkey}”{t.at}",
}


def describe(event: SecurityEvent, *, for_owner: bool = True) -> str:
    """One sentence about what happened. `for_owner` speaks to the account's owner ("your
    session") and never names the administrator; otherwise it reads for admins."""
    who = ""
    if event.actor_id is not None and event.actor_id != event.user_id:
        who = (
            "An administrator"
            if for_owner
            else (event.actor.email if event.actor is not None else "A deleted administrator")
        )
    wording = WORDING.get(event.kind)
    if wording is None:
        return f"{label(event.kind)}{_from(event)}"
    return wording(_Told(event, event.data or {}, who, "your" if for_owner else "their"))
