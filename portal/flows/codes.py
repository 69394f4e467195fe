"""One-time secrets sent by email: issue, check and spend them (README "Rules worth knowing")."""

from datetime import timedelta

from sqlalchemy import delete, select

from portal import clock, one_time_secrets
from portal.extensions import db
from portal.flows import FlowError
from portal.models import OneTimeCode, User

CODE_LIFETIME = timedelta(minutes=15)
RESET_LIFETIME = timedelta(minutes=30)
RESEND_INTERVAL = timedelta(minutes=1)
MAX_ATTEMPTS = 5


def invalid_link(message: str) -> FlowError:
    """A link token (password reset, "this wasn't me") that is unknown, used or expired: one
    code for all of them, on the `token` field."""
    return FlowError("invalid_reset_token", message, field="token")


def latest_code(user: User, purpose: str, *, lock: bool = False) -> OneTimeCode | None:
    query = (
        select(OneTimeCode)
        .where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.created_at.desc())
        .limit(1)
    )
    if lock:  # two tries at once must both be counted
        query = query.with_for_update()
    return db.session.scalar(query)


def can_send_again(user: User, purpose: str) -> bool:
    """At most one new code a minute, so the mailbox and the mail service aren't flooded."""
    latest = latest_code(user, purpose)
    return latest is None or clock.utcnow() - latest.created_at >= RESEND_INTERVAL


def issue_code(user: User, purpose: str, *, target: str | None = None) -> str:
    """A new 6-digit code for `purpose`; it supersedes (deletes) any earlier one."""
    _discard(user, purpose)
    code = one_time_secrets.new_code()
    _keep(user, purpose, code, CODE_LIFETIME, target=target)
    return code


def issue_token(user: User, purpose: str, *, lifetime: timedelta = RESET_LIFETIME) -> str:
    """A new >= 256-bit link token for `purpose`, superseding earlier ones."""
    _discard(user, purpose)
    token = one_time_secrets.new_token()
    _keep(user, purpose, token, lifetime)
    return token


def _keep(user: User, purpose: str, secret: str, lifetime: timedelta, target=None) -> None:
    """Only a keyed hash is stored: a database dump holds no usable code or link."""
    db.session.add(
        OneTimeCode(
            user_id=user.id,
            purpose=purpose,
            secret_hash=one_time_secrets.keyed_hash(purpose, secret),
            target=target,
            expires_at=clock.utcnow() + lifetime,
        )
    )


def discard_codes(user: User, purpose: str) -> None:
    _discard(user, purpose)


def _discard(user: User, purpose: str) -> None:
    db.session.execute(
        delete(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose)
    )


def spend_code(user: User | None, purpose: str, code, *, budget_key=None) -> OneTimeCode:
    """Check a typed code; on success mark it used and return it. Wrong tries are counted and
    committed even though the caller's request fails, so 5 wrong tries really burn the code;
    with `budget_key`, every failed try also spends that guessing budget."""
    code = code.strip().replace(" ", "") if isinstance(code, str) else ""
    record = latest_code(user, purpose, lock=True) if user is not None else None
    if record is None or record.used_at is not None:
        error = FlowError(
            "invalid_code", "That code is not valid. Ask for a new one.", field="code"
        )
    elif record.attempts >= MAX_ATTEMPTS:
        error = _used_up()
    elif record.expires_at <= clock.utcnow():
        error = FlowError("code_expired", "That code has expired. Ask for a new one.", field="code")
    elif not (len(code) == 6 and code.isascii() and code.isdigit()) or not one_time_secrets.matches(
        record.secret_hash, purpose, code
    ):
        record.attempts += 1
        left = MAX_ATTEMPTS - record.attempts
        error = (
            _used_up()
            if left <= 0
            else FlowError(
                "invalid_code",
                f"That code is not right. {left} {'try' if left == 1 else 'tries'} left.",
                field="code",
            )
        )
    else:
        record.used_at = clock.utcnow()
        return record
    if budget_key is not None:
        from portal.flows import budget

        budget.charge(budget_key, user)  # commits the attempt too
    else:
        db.session.commit()
    raise error


def _used_up() -> FlowError:
    return FlowError("code_used_up", "Too many wrong tries. Ask for a new code.", field="code")


def find_token(purpose: str, token, *, lock: bool = False) -> OneTimeCode | None:
    """The unused, unexpired record for a link token, or None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        return None
    query = select(OneTimeCode).where(
        OneTimeCode.secret_hash == one_time_secrets.keyed_hash(purpose, token),
        OneTimeCode.purpose == purpose,
    )
    if lock:  # two submissions of one link: only one may spend it
        query = query.with_for_update()
    record = db.session.scalar(query)
    if record is None or record.used_at is not None or record.expires_at <= clock.utcnow():
        return None
    return record
