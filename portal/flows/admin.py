"""What admins do to other accounts. Every action is a security event with the admin as actor.

The rules: an admin never demotes, disables or deletes their own account, and the last active
admin is never removed (the CLI's `demote` goes through the same check)."""

import uuid
from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, select

from portal.extensions import db
from portal.flows import FlowError, activity, budget, events, invalid
from portal.flows.accounts import find_by_email, send
from portal.flows.activity import events_page
from portal.flows.password_reset import discard_reset_links
from portal.flows.sessions import get_own_session, revoke, revoke_all
from portal.flows.signup import username_taken
from portal.flows.validation import check_new_password, normalize_email, normalize_username
from portal.models import SecurityEvent, User, UserSession, uuid_text
from portal.origin import Origin
from portal.pagination import BadCursor, Page, decode, encode, page_of, read, text, values_of
from portal.passwords import hash_password

REASON_MAX = 120
# What the owner reads on their activity page, and what is kept as the session's reason.
ENDED_BY_ADMIN = "Ended by an administrator"


def get_user(user_id) -> User:
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise FlowError("not_found", "There is no such user.") from None
    user = db.session.get(User, uid)
    if user is None:
        raise FlowError("not_found", "There is no such user.")
    return user


def admin_count(*, lock: bool = False) -> int:
    """Active admins. With `lock`, their rows stay locked to the end of the transaction, so
    two admins removing each other at once cannot both succeed (PostgreSQL re-checks the
    rows after waiting)."""
    query = select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True))
    if lock:
        query = query.with_for_update()
    return len(db.session.scalars(query).all())


def _check_removal(admin: User | None, user: User, action: str) -> None:
    """Refuse acting on oneself, and removing the last active admin."""
    if admin is not None and admin.id == user.id:
        raise FlowError("forbidden", f"You cannot {action} your own account.")
    if user.is_admin and user.is_active and admin_count(lock=True) <= 1:
        raise FlowError(
            "forbidden", f"You cannot {action} the last admin; make someone else an admin first."
        )


def clean_reason(reason, *, required: bool = True) -> str:
    """A short reason in plain text, shown to the account's owner."""
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if required and not reason:
        raise invalid({"reason": ["Give a short reason; the owner of the account will see it."]})
    if len(reason) > REASON_MAX:
        raise invalid({"reason": [f"Keep the reason under {REASON_MAX} characters."]})
    return reason


# -- finding ---------------------------------------------------------------------------------


def _prefix_range(prefix: str) -> dict:
    """The strings that start with `prefix` are those from it (`lo`) up to, not including,
    `hi`: the prefix with its last character's next code point. In code point order, which
    is how COLLATE "C" (UTF-8 bytes) and SQLite compare. A range rather than LIKE 'prefix%':
    with LIKE, PostgreSQL has to plan the statement again for every value; a range plan is
    made once and kept (psycopg prepares the statement)."""
    head = prefix
    while head:
        last = ord(head[-1])
        head = head[:-1]
        if last < 0x10FFFF:
            following = 0xE000 if 0xD7FF <= last < 0xE000 else last + 1  # no surrogates
            return {"lo": prefix, "hi": head + chr(following)}
    return {"lo": prefix, "hi": prefix + "\U0010ffff"}  # "" or only U+10FFFF: all of it


def search_users(
    query: str = "",
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> Page:
    """Users whose email or username starts with `query` (any case), a page at a time.

    The results are two runs read straight from an index each, so a page costs the same at
    10,000 users as at 1,000,000 (no sort of every match): first the users whose *email*
    starts with the query, in email order; then those matched by *username* only, in
    username order. A cursor (`after`: the next page, `before`: the previous one) names the
    run and the value. Emails and usernames are stored lower-case and compared byte-wise
    (COLLATE "C"), which the `*_c` indexes serve for both the prefix match and the order."""
    limit = limit or activity.PAGE_SIZE
    query = (query or "").strip().lower()[:254]
    runs = _runs(db.engine.dialect.name)[bool(query)]
    after, before = after or None, before or None
    cursor = before or after
    phase, value = _position(cursor, runs) if cursor else (0, None)
    params = _prefix_range(query)
    rows = _read(runs, phase, value, limit + 1, backwards=before is not None, params=params)
    page = page_of(rows, limit, _cursor_of, after=after, before=before)
    page.items = [user for user, _ in page.items]
    return page


# What a list of accounts shows (templates/admin/_users.html): a page reads these columns
# only, as rows (not the password hash, nor the second-factor summary's subqueries, nor a
# model object for every row). The id comes as text, which is all a row uses it for (its
# links): no UUID object made and written back out for each of the 25 rows.
_LISTED = (
    uuid_text(User.id).label("id"),
    User.email,
    User.username,
    User.is_verified,
    User.is_active,
    User.is_admin,
    User.last_login_at,
)


@dataclass(frozen=True)
class _Run:
    tag: str  # "e" or "u", named in the cursor
    column: object
    statement: object  # the run's accounts, the prefix as the bind parameters "lo", "hi"
    keys: tuple  # (column,): its order


def _run(tag: str, column, *where) -> _Run:
    return _Run(tag, column, select(*_LISTED).where(*where), (column,))


@cache
def _runs(dialect: str) -> tuple[tuple[_Run, ...], tuple[_Run, ...]]:
    """The runs without a query, and with one; built once per database kind (the statements
    are reused: pagination.read). Emails and usernames compare as bytes: on PostgreSQL
    through COLLATE "C" (what the indexes are built with); SQLite already does."""
    email, username = User.email, User.username
    if dialect == "postgresql":
        email, username = email.collate("C"), username.collate("C")
    by_email = (email >= bindparam("lo")) & (email < bindparam("hi"))
    by_username = (username >= bindparam("lo")) & (username < bindparam("hi"))
    everyone = (_run("e", email),)
    matching = (_run("e", email, by_email), _run("u", username, by_username, ~by_email))
    return everyone, matching


def _position(cursor: str, runs: list[_Run]) -> tuple[int, str | None]:
    """The run and value a cursor names. Links from before opaque cursors still work:
    "u:ada" names its run, and a plain value is an email ("ada@example.com")."""
    try:
        tag, value = decode(cursor, (str, str))
    except BadCursor:
        tag, sep, value = cursor.partition(":")
        if not sep or tag not in {run.tag for run in runs}:
            tag, value = "e", cursor
        try:
            value = text(value)
        except ValueError:
            return 0, None
    for index, run in enumerate(runs):
        if tag == run.tag:
            return index, value
    return 0, None  # a cursor of another search: its first page


def _cursor_of(row) -> str:
    user, run = row
    return encode((run.tag, *values_of(user, [run.column])))


def _read(runs, phase: int, value, count: int, *, backwards: bool, params: dict) -> list:
    """Up to `count` (user, run) pairs from run `phase` past `value`, then on into the next
    run (or, backwards, the previous one): one statement per run touched."""
    rows: list = []
    step = -1 if backwards else 1
    while 0 <= phase < len(runs) and len(rows) < count:
        run = runs[phase]
        past = None if value is None else (value,)
        found = read(
            run.statement, run.keys, past, count - len(rows), backwards=backwards, params=params
        )
        rows.extend((user, run) for user in found)
        phase, value = phase + step, None
    return rows


def recent_events(user: User, limit: int = 20) -> list[SecurityEvent]:
    return events_page(user=user, limit=limit).items


# -- acting ----------------------------------------------------------------------------------


def end_user_session(admin: User, user_id, session_id, reason, origin: Origin) -> UserSession:
    """End one session of an account; that device is signed out on its next request and its
    API token stops working at once. The owner sees the reason."""
    user = get_user(user_id)
    reason = clean_reason(reason)
    session = get_own_session(user, session_id)
    revoke(session, f"{ENDED_BY_ADMIN}: {reason}")
    events.record(
        "session_ended",
        user,
        origin=origin,
        actor=admin,
        session=session,
        device=session.device_label,
        reason=reason,
    )
    db.session.commit()
    return session


def end_all_user_sessions(admin: User, user_id, reason, origin: Origin) -> int:
    """End every session of an account (an admin acting on themselves keeps this one)."""
    user = get_user(user_id)
    reason = clean_reason(reason)
    keep = admin.current_session if admin.id == user.id else None
    count = revoke_all(user, f"{ENDED_BY_ADMIN}: {reason}", keep=keep)
    events.record(
        "all_sessions_ended", user, origin=origin, actor=admin, count=count, reason=reason
    )
    db.session.commit()
    return count


def disable_user(admin: User, user_id, origin: Origin, reason="") -> int:
    """Block sign-in and end every session (pages and API alike). Returns sessions ended."""
    user = get_user(user_id)
    reason = clean_reason(reason, required=False)
    _check_removal(admin, user, "disable")
    if not user.is_active:
        return 0
    user.is_active = False
    why = "Account disabled by an administrator" + (f": {reason}" if reason else "")
    count = revoke_all(user, why)
    discard_reset_links(user)
    events.record(
        "account_disabled",
        user,
        origin=origin,
        actor=admin,
        sessions_ended=count,
        reason=reason or None,
    )
    db.session.commit()
    return count


def unlock_user(admin: User | None, user: User, origin: Origin | None = None) -> int:
    """Clear the account's guessing budget (and its devices'): the owner may try again at
    once. For admins (`admin`) and operators (the CLI, `admin` None); recorded."""
    cleared = budget.clear(user)
    events.record(
        "account_unlocked", user, origin=origin, actor=admin, by="admin" if admin else "operator"
    )
    db.session.commit()
    return cleared


def enable_user(admin: User, user_id, origin: Origin) -> User:
    user = get_user(user_id)
    if not user.is_active:
        user.is_active = True
        events.record("account_enabled", user, origin=origin, actor=admin)
        db.session.commit()
    return user


def delete_user(admin: User, user_id, origin: Origin) -> None:
    """Delete another account for good; its owner is told by email."""
    user = get_user(user_id)
    _check_removal(admin, user, "delete")
    email, username = user.email, user.username
    events.record("account_deleted", user, origin=origin, actor=admin)
    db.session.delete(user)
    send(email, "account_deleted", origin=origin, username=username, by_admin=True)
    db.session.commit()


def promote(admin: User | None, user: User, origin: Origin | None = None, **data) -> bool:
    """Make an account an admin (False when it already was). `admin` is None from the CLI."""
    if user.is_admin:
        return False
    user.is_admin = True
    events.record("admin_promoted", user, origin=origin, actor=admin, **data)
    db.session.commit()
    return True


def demote(admin: User | None, user: User, origin: Origin | None = None, **data) -> bool:
    """Take admin rights away; never one's own, never the last active admin's."""
    if not user.is_admin:
        return False
    _check_removal(admin, user, "demote")
    user.is_admin = False
    events.record("admin_demoted", user, origin=origin, actor=admin, **data)
    db.session.commit()
    return True


def new_admin_identity(email, username=None) -> tuple[str, str]:
    """The email and username a new admin account would have, by sign-up's rules: both
    normalised (the username defaults to the part of the email before @), the email without
    an account, the username free (pending sign-ups of other addresses hold theirs)."""
    email, problem = normalize_email(email)
    if problem:
        raise invalid({"email": [problem]})
    username, problem = normalize_username(username or email.split("@")[0])
    if problem:
        raise invalid({"username": [problem]})
    if find_by_email(email) is not None:
        raise FlowError("forbidden", f"{email} already has an account.", field="email")
    if username_taken(username, email):
        raise FlowError("username_taken", f"The username {username} is taken.", field="username")
    return email, username


def create_admin(email, username, password) -> User:
    """A verified admin account, made from the command line (no email is sent)."""
    email, username = new_admin_identity(email, username)
    problem = check_new_password(password, email=email, username=username)
    if problem:
        raise invalid({"password": [problem]})
    user = User(
        id=uuid.uuid4(),
        email=email,
        username=username,
        password_hash=hash_password(password),
        is_verified=True,
        is_admin=True,
    )
    db.session.add(user)
    events.record("admin_created", user, via="cli")
    db.session.commit()
    return user
