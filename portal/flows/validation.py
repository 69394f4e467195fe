"""Input rules shared by every flow: email, username, password."""

import re

from email_validator import EmailNotValidError, validate_email

from portal.input_rules import MAX_EMAIL, PASSWORD_MAX, USERNAME_MAX, USERNAME_MIN, USERNAME_PATTERN
from portal.passwords import password_problems

USERNAME_RE = re.compile(USERNAME_PATTERN)


def normalize_email(value) -> tuple[str | None, str | None]:
    """(normalised lower-case email, None) or (None, message)."""
    if not isinstance(value, str) or not value.strip():
        return None, "Enter your email address."
    value = value.strip()
    if len(value) > MAX_EMAIL:
        return None, "That email address is too long."
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None, "Enter a valid email address, like name@example.com."
    return result.normalized.lower(), None


def normalize_username(value) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, "Choose a username."
    value = value.strip().lower()
    if len(value) < USERNAME_MIN or len(value) > USERNAME_MAX:
        return None, f"Use {USERNAME_MIN} to {USERNAME_MAX} characters."
    if not USERNAME_RE.match(value):
        return None, "Use only letters a-z, digits and . _ -"
    return value, None


def check_new_password(value, *, email: str = "", username: str = "") -> str | None:
    """The first problem with a new password, or None."""
    if not isinstance(value, str) or not value:
        return "Choose a password."
    if len(value) > PASSWORD_MAX:
        return f"Use at most {PASSWORD_MAX} characters."
    problems = password_problems(value, email=email or "", username=username or "")
    return problems[0] if problems else None


def plain_password(value) -> str:
    """A submitted current password, or '' (never raises on wrong types or sizes)."""
    if not isinstance(value, str) or len(value) > PASSWORD_MAX * 4:
        return ""
    return value
