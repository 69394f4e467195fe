"""Recovery codes: ten single-use codes for a lost authenticator app (README "Two-step sign-in").

Shown once, when made; only keyed hashes are stored (like emailed codes,
portal/one_time_secrets.py), so a copy of the table is no use without SECRET_KEY. Each
carries 50 random bits: guessing is held back by the account's guessing budget long before
that matters."""

import secrets

from sqlalchemy import delete, func, select

from portal import clock, one_time_secrets
from portal.extensions import db
from portal.models import RecoveryCode, User, forget_mfa_summary

COUNT = 10
# No 0/o, 1/l/i: codes are read off paper and typed back.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 10
PURPOSE = "recovery_code"


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize(code) -> str:
    """What was typed, without the spaces, dashes and case people add or drop."""
    if not isinstance(code, str):
        return ""
    return "".join(code.split()).replace("-", "").lower()[:64]


def looks_like_one(code) -> bool:
    text = normalize(code)
    return len(text) == LENGTH and all(c in ALPHABET for c in text)


def replace_all(user: User) -> list[str]:
    """Ten new codes; every earlier one stops working. Caller commits."""
    discard_all(user)
    codes = [_new_code() for _ in range(COUNT)]
    db.session.add_all(
        RecoveryCode(
            user_id=user.id, code_hash=one_time_secrets.keyed_hash(PURPOSE, normalize(code))
        )
        for code in codes
    )
    forget_mfa_summary(user)
    return codes


def discard_all(user: User) -> None:
    db.session.execute(
        delete(RecoveryCode)
        .where(RecoveryCode.user_id == user.id)
        .execution_options(synchronize_session=False)
    )
    forget_mfa_summary(user)


def left(user: User) -> int:
    return db.session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


def spend(user: User, code) -> int | None:
    """Use one code: how many are left after it, or None when it is not an unused code of
    this account. The row is locked, so one code never works twice, even at once. Caller
    commits."""
    if not looks_like_one(code):
        return None
    row = db.session.scalar(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == one_time_secrets.keyed_hash(PURPOSE, normalize(code)),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if row is None:
        return None
    row.used_at = clock.utcnow()
    db.session.flush()
    forget_mfa_summary(user)
    return left(user)
