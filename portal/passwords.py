"""Password hashing (argon2id) and the password policy of README "Rules worth knowing"."""

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn

from portal.input_rules import PASSWORD_MAX, PASSWORD_MIN

# zxcvbn score 3 = "safely unguessable": refuses common, dictionary and keyboard-walk
# passwords, and ones built from the email or username, without composition rules.
MIN_SCORE = 3
ZXCVBN_MAX = 72


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash is weaker than today's parameters."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


_dummy_hash: dict[tuple, str] = {}


def burn_password_check(password: str) -> None:
    """Verify against a dummy hash so an unknown account costs as much as a known one."""
    hasher = _hasher()
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _dummy_hash:
        _dummy_hash[key] = hasher.hash("dummy password for timing")
    verify_password(_dummy_hash[key], password)


def password_problems(password: str, *, email: str = "", username: str = "") -> list[str]:
    """What is wrong with a new password, in words a person can act on ([] when fine)."""
    if len(password) < PASSWORD_MIN:
        return [f"Use at least {PASSWORD_MIN} characters."]
    if len(password) > PASSWORD_MAX:
        return [f"Use at most {PASSWORD_MAX} characters."]
    inputs = [v for v in (email, email.split("@")[0], username) if v]
    lowered = password.lower()
    if any(len(v) >= 3 and v.lower() in lowered for v in inputs):
        return ["Don't build your password from your email address or username."]
    # zxcvbn refuses inputs over 72 characters; the first 72 decide the score well enough (a
    # long password is weak only when it repeats, which the first 72 already show).
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=inputs)
    if result["score"] >= MIN_SCORE:
        return []
    feedback = result.get("feedback") or {}
    warning = feedback.get("warning") or "This password is too easy to guess."
    hints = " ".join(feedback.get("suggestions") or [])
    advice = "Try a longer passphrase of a few unrelated words."
    return [" ".join(part for part in (warning.rstrip(".") + ".", hints, advice) if part)]
