"""Sign-up and email verification (README "Rules worth knowing").

A sign-up is *pending* until its own emailed code confirms it: it is not an account yet.
Each pending sign-up has its own code, and a code confirms only the sign-up that asked for
it, so neither a stranger's sign-up made before yours nor one made after can leave their
password or username on the account you confirm. At most 3 are pending per address, for
24 hours, each holding its username that long.

Every sign-up does the same work in the request, whether or not the address already has an
account: a pending row and one queued job are written, and the job decides what to email
(the code, or an "account exists" note to the owner, in which case the row never gets a
code).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from portal import clock, one_time_secrets, outbox
from portal.extensions import db
from portal.flows import FlowError, budget, devices, events, invalid
from portal.flows.accounts import find_by_email, over_cap, queue_for_address, send
from portal.flows.sessions import start_session
from portal.flows.validation import (
    check_new_password,
    normalize_email,
    normalize_username,
    plain_password,
)
from portal.models import PendingSignUp, User, UserSession
from portal.origin import Origin
from portal.passwords import burn_password_check, hash_password, verify_password

VERIFY = "verify_email"
PENDING_LIFETIME = timedelta(hours=24)
MAX_PENDING_PER_ADDRESS = 3
CODE_LIFETIME = timedelta(minutes=15)
RESEND_INTERVAL = timedelta(minutes=1)
MAX_ATTEMPTS = 5


@dataclass
class SignUpResult:
    email: str
    pending_id: uuid.UUID


def sign_up(email, username, password, origin: Origin) -> SignUpResult:
    """Start a sign-up and email its code. A taken email gets the very same answer and the
    same work (its owner is emailed instead), so sign-up never tells who has an account."""
    errors: dict[str, list[str]] = {}
    email, problem = normalize_email(email)
    if problem:
        errors["email"] = [problem]
    username, problem = normalize_username(username)
    if problem:
        errors["username"] = [problem]
    problem = check_new_password(password, email=email or "", username=username or "")
    if problem:
        errors["password"] = [problem]
    if errors:
        raise invalid(errors)
    # The username first: its answer must not depend on whether the email is taken.
    if username_taken(username, email):
        raise _username_taken()

    now = clock.utcnow()
    live = _live_pending(email)
    for old in live[MAX_PENDING_PER_ADDRESS - 1 :]:  # the oldest give way to the newest
        db.session.delete(old)
    pending = PendingSignUp(
        id=uuid.uuid4(),
        email=email,
        username=username,
        password_hash=hash_password(password),
        device_label=origin.device,
        ip_address=origin.ip_address[:64],
        created_at=now,
        expires_at=now + PENDING_LIFETIME,
    )
    pending.code_sent_at = now
    pending.code_expires_at = now + CODE_LIFETIME
    db.session.add(pending)
    outbox.enqueue_job("sign_up_code", origin, pending_id=str(pending.id))
    db.session.commit()
    return SignUpResult(email=email, pending_id=pending.id)


def username_taken(username: str, email: str | None = None) -> bool:
    """Taken by an account, or held by someone else's pending sign-up."""
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        return True
    held = select(PendingSignUp.id).where(
        PendingSignUp.username == username, PendingSignUp.expires_at > clock.utcnow()
    )
    if email:
        held = held.where(PendingSignUp.email != email)
    return db.session.scalar(held.limit(1)) is not None


def _username_taken() -> FlowError:
    return FlowError("username_taken", "That username is taken. Try another.", field="username")


def _live_pending(email: str) -> list[PendingSignUp]:
    """The address's pending sign-ups, newest first."""
    return list(
        db.session.scalars(
            select(PendingSignUp)
            .where(PendingSignUp.email == email, PendingSignUp.expires_at > clock.utcnow())
            .order_by(PendingSignUp.created_at.desc())
        )
    )


@outbox.job("sign_up_code")
def send_code(origin: Origin, pending_id: str) -> None:
    """The job after a sign-up or a resend: a fresh code for the sign-up (the old one dies),
    or, when the address already has an account, an "account exists" note to its owner (the
    row then has no code at all). The row changes the same way in both cases, so its page
    reads the same. When the address had its share of emails this hour nothing changes:
    the code it holds keeps working."""
    pending = pending_by_id(pending_id)
    if pending is None or over_cap(pending.email, VERIFY, origin):
        return
    now = clock.utcnow()
    pending.attempts = 0
    pending.code_expires_at = now + CODE_LIFETIME
    owner = find_by_email(pending.email)
    if owner is not None:
        pending.code_hash = None
        send(owner.email, "account_exists", origin=origin, user=owner)
        return
    code = one_time_secrets.new_code()
    pending.code_hash = one_time_secrets.keyed_hash(f"{VERIFY}:{pending.id}", code)
    send(
        pending.email,
        VERIFY,
        origin=origin,
        expires_at=pending.code_expires_at,
        code=code,
        username=pending.username,
        device=pending.device_label,
        ip_address=pending.ip_address,
        minutes=int(CODE_LIFETIME.total_seconds() // 60),
    )


def pending_by_id(pending_id) -> PendingSignUp | None:
    try:
        pid = uuid.UUID(str(pending_id))
    except ValueError:
        return None
    pending = db.session.get(PendingSignUp, pid)
    if pending is None or pending.expires_at <= clock.utcnow():
        return None
    return pending


def resend_code(pending: PendingSignUp | None, origin: Origin) -> None:
    """Queue a fresh code for this sign-up, at most once a minute (the answer is the same).
    Commits."""
    if pending is None or not _may_resend(pending):
        return
    pending.code_sent_at = clock.utcnow()
    outbox.enqueue_job("sign_up_code", origin, pending_id=str(pending.id))
    db.session.commit()


def _may_resend(pending: PendingSignUp) -> bool:
    sent = pending.code_sent_at
    return sent is None or clock.utcnow() - sent >= RESEND_INTERVAL


def resend_verification(email, origin: Origin) -> None:
    """API: fresh codes for the address's pending sign-ups. The request only validates and
    queues one job, so the answer is the same whatever the address."""
    queue_for_address("sign_up_codes_again", email, origin)


@outbox.job("sign_up_codes_again")
def _resend_all(origin: Origin, email: str) -> None:
    for pending in _live_pending(email):
        if _may_resend(pending):
            pending.code_sent_at = clock.utcnow()
            send_code(origin, str(pending.id))


def pending_for_login(login: str) -> PendingSignUp | None:
    """Sign-in to an address or username that has only a pending sign-up: the one whose
    password decides (the newest for an address; usernames are held by one at a time)."""
    if "\x00" in login:
        return None
    return db.session.scalar(
        select(PendingSignUp)
        .where(
            or_(PendingSignUp.email == login, PendingSignUp.username == login),
            PendingSignUp.expires_at > clock.utcnow(),
        )
        .order_by(PendingSignUp.created_at.desc())
        .limit(1)
    )


def verify_pending(pending_id, email, code, origin: Origin, *, kind="web", device_token=None):
    """Pages: the code for the sign-up this browser made (kept in its session)."""
    email, _ = normalize_email(email)
    key = budget.for_login(email or "")
    budget.check(key)
    pending = pending_by_id(pending_id)
    if pending is not None and pending.email != email:
        pending = None
    return _confirm(
        pending, code, key, origin, kind=kind, detailed=pending is not None, device=device_token
    )


def verify_email(email, code, origin: Origin, *, password=None, kind="api", device_token=None):
    """API: `{email, code}`, plus the sign-up's `password` when several are pending. Without
    the password the caller proved nothing: every failure reads the same and a stranger's
    guesses spend only the address's budget, never the owner's code."""
    email, problem = normalize_email(email)
    if problem:
        raise invalid({"email": [problem]})
    key = budget.for_login(email)
    budget.check(key)
    live = _live_pending(email)
    password = plain_password(password)
    if password:
        chosen = None
        for pending in live:
            if verify_password(pending.password_hash, password):
                chosen = pending
                break
        if not live:
            burn_password_check(password)
        return _confirm(
            chosen, code, key, origin, kind=kind, detailed=chosen is not None, device=device_token
        )
    if len(live) > 1:
        raise invalid(
            {
                "password": [
                    "More than one sign-up is waiting for this address: send the password "
                    "chosen at sign-up too."
                ]
            }
        )
    pending = live[0] if live else None
    return _confirm(pending, code, key, origin, kind=kind, detailed=False, device=device_token)


def _confirm(pending, code, key, origin: Origin, *, kind, detailed, device) -> UserSession:
    """Spend the code of `pending`: it becomes an account, signed in on a new session."""
    code = code.strip().replace(" ", "") if isinstance(code, str) else ""
    now = clock.utcnow()
    if pending is None:
        problem = "wrong"
    elif pending.attempts >= MAX_ATTEMPTS:
        problem = "used_up"
    elif pending.code_expires_at is None or pending.code_expires_at <= now:
        problem = "expired"
    elif (
        pending.code_hash is None  # a taken address: its owner got a note, not a code
        or not (len(code) == 6 and code.isascii() and code.isdigit())
        or not one_time_secrets.matches(pending.code_hash, f"{VERIFY}:{pending.id}", code)
    ):
        problem = "wrong"
    else:
        problem = None
    if problem:
        if pending is not None and detailed and problem == "wrong":
            pending.attempts += 1
        budget.charge(key)  # commits the attempt too
        raise _code_error(problem, pending, detailed)

    if find_by_email(pending.email) is not None:  # confirmed by someone a moment ago
        budget.charge(key)
        raise _code_error("wrong", None, detailed)
    user = User(
        id=uuid.uuid4(),
        email=pending.email,
        username=pending.username,
        password_hash=pending.password_hash,
        is_verified=True,
        created_at=pending.created_at,
    )
    db.session.add(user)
    # Every other sign-up for this address is void now; their usernames are free again.
    db.session.execute(
        delete(PendingSignUp)
        .where(PendingSignUp.email == pending.email)
        .execution_options(synchronize_session=False)
    )
    db.session.expunge(pending)
    events.record("signed_up", user, origin=origin)
    try:
        db.session.flush()
    except IntegrityError:  # the username went to an account in the meantime
        db.session.rollback()
        raise _username_taken() from None
    session = start_session(user, kind, origin)
    # The device that confirmed is known from now on (no "new sign-in" notice for it).
    known, session.device_token, _ = devices.remember(user, kind, origin, device)
    session.device_id = known.id
    events.record("email_verified", user, origin=origin, session=session)
    events.record("signed_in", user, origin=origin, session=session, method="email code")
    db.session.commit()
    return session


def _code_error(problem: str, pending, detailed: bool) -> FlowError:
    if not detailed:
        return FlowError(
            "invalid_code",
            "That code is not right, or it has expired. Check the newest email or ask for a "
            "new code.",
            field="code",
        )
    if problem == "used_up":
        return FlowError("code_used_up", "Too many wrong tries. Ask for a new code.", field="code")
    if problem == "expired":
        return FlowError("code_expired", "That code has expired. Ask for a new one.", field="code")
    left = MAX_ATTEMPTS - pending.attempts if pending is not None else MAX_ATTEMPTS
    if left <= 0:
        return FlowError("code_used_up", "Too many wrong tries. Ask for a new code.", field="code")
    return FlowError(
        "invalid_code",
        f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.",
        field="code",
    )
