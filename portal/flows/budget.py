"""One budget per account for guessing secrets (README "Rules worth knowing").

Wrong sign-in passwords, wrong emailed codes of every kind (and, later, wrong second-factor
codes) all spend the same budget: 10 failures per 15 minutes, then the account waits, twice
as long each time it trips again the same day, and never more than 50 failures a day. The
owner is emailed once a day when it trips; a completed password reset (or an operator's
`users unlock`) clears it.

Whose budget a failure spends (the `key`):
- `user:<id>` for an account;
- `device:<id>` for a browser or app that completed a sign-in to that account before, so
  strangers' failures never lock the owner out of their own devices;
- `login:<hash>` for a login (email or username) as typed that matches no account: the same
  rows and the same statements as an account, so a 429 never tells accounts apart.

Only real checks count: an empty field is a form error, not a guess. Re-issuing a code (for
any target) never refills anything. Rows live in PostgreSQL, so every app process sees the
same counts, and a failure is committed even though the request that made it fails.
"""

import hashlib
import hmac
import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select

from portal import clock, metrics
from portal.extensions import db
from portal.flows import FlowError
from portal.models import Device, GuessBudget, User

WINDOW = timedelta(minutes=15)
WINDOW_FAILURES = 10
DAY = timedelta(days=1)
DAY_FAILURES = 50


def for_user(user: User) -> str:
    return f"user:{user.id}"


def for_device(device: Device) -> str:
    return f"device:{device.id}"


def for_login(login: str) -> str:
    """A login as typed (normalised), keyed-hashed: the table never holds addresses."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"budget:{login.strip().lower()}".encode(), hashlib.sha256)
    return "login:" + digest.hexdigest()


def key_for(user: User | None, login: str, device: Device | None = None) -> str:
    if device is not None and user is not None and device.user_id == user.id:
        return for_device(device)
    return for_user(user) if user is not None else for_login(login)


# `check(blocked_until=...)` default: the caller has not read the budget (None would mean
# "read: it holds nothing back").
NOT_READ = object()


def check(key: str, blocked_until=NOT_READ) -> None:
    """Refuse (429 `rate_limited`, with the seconds to wait) while the budget is spent.
    `blocked_until`: the budget's own column as the caller's look-up read it (sign-in's,
    with the account; None when there is no row or it holds nothing back)."""
    if blocked_until is NOT_READ:
        row = db.session.get(GuessBudget, key)
        blocked_until = row.blocked_until if row is not None else None
    if blocked_until is None:
        return
    wait = (blocked_until - clock.utcnow()).total_seconds()
    if wait > 0:
        raise limited(wait)


def limited(seconds: float) -> FlowError:
    seconds = max(1, math.ceil(seconds))
    minutes = max(1, math.ceil(seconds / 60))
    when = f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes >= 120:
        when = f"{math.ceil(minutes / 60)} hours"
    return FlowError(
        "rate_limited",
        f"Too many wrong tries. Wait {when} and try again, or reset your password.",
        retry_after=seconds,
    )


def charge(key: str, user: User | None = None) -> bool:
    """Count one failure and commit it. True when this failure tripped the budget."""
    now = clock.utcnow()
    row = _locked_row(key, user)
    if now - row.day_started_at >= DAY:
        row.day_started_at, row.day_failures, row.strikes = now, 0, 0
    if now - row.window_started_at >= WINDOW:
        row.window_started_at, row.failures = now, 0
    row.failures += 1
    row.day_failures += 1
    tripped = row.failures >= WINDOW_FAILURES or row.day_failures >= DAY_FAILURES
    if tripped:
        row.strikes += 1
        wait = WINDOW * 2 ** (row.strikes - 1)
        until = now + wait
        if row.day_failures >= DAY_FAILURES:
            until = max(until, row.day_started_at + DAY)
        row.blocked_until = until
        # A fresh window once the wait is over.
        row.window_started_at, row.failures = until, 0
        metrics.budget_tripped(key)
    tell_owner = tripped and user is not None and not _notified_today(row, now)
    if tell_owner:
        row.notified_at = now
        from portal.flows import accounts, events

        minutes = int(wait.total_seconds() // 60)
        events.record("guessing_locked", user, minutes=minutes)
        accounts.notify(user, "account_locked", minutes=minutes)
    db.session.commit()
    return tripped


def _notified_today(row: GuessBudget, now) -> bool:
    return row.notified_at is not None and now - row.notified_at < DAY


def _locked_row(key: str, user: User | None) -> GuessBudget:
    """The budget row, locked for this transaction (created on first failure): two failures
    at once are both counted."""
    query = select(GuessBudget).where(GuessBudget.key == key).with_for_update()
    row = db.session.scalar(query.execution_options(populate_existing=True))
    if row is not None:
        return row
    now = clock.utcnow()
    insert = _insert_statement().values(
        key=key,
        user_id=user.id if user is not None else None,
        window_started_at=now,
        failures=0,
        day_started_at=now,
        day_failures=0,
        strikes=0,
    )
    db.session.execute(insert.on_conflict_do_nothing(index_elements=["key"]))
    return db.session.scalar(query.execution_options(populate_existing=True))


def _insert_statement():
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(GuessBudget)


def clear(user: User) -> int:
    """Forget the failures of an account and its devices (password reset, unlock). Caller
    commits."""
    return db.session.execute(
        delete(GuessBudget)
        .where(GuessBudget.user_id == user.id)
        .execution_options(synchronize_session=False)
    ).rowcount


def locked_until(user: User):
    """When the account's own budget opens again (None when it is open): for admin pages."""
    row = db.session.get(GuessBudget, for_user(user))
    if row is None or row.blocked_until is None or row.blocked_until <= clock.utcnow():
        return None
    return row.blocked_until
