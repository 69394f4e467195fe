"""Input rules shared by every flow: email, username, password."""

import re

from email_validator import EmailNotValidError, validate_email

from portal.passwords import MAX_LENGTH, password_problems

USERNAME_RE = re.compile(r"^[a-z0-9_.\-]{3,32}$")
MAX_EMAIL = 254


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
    if len(value) < 3 or len(value) > 32:
        return None, "Use 3 to 32 characters."
    if not USERNAME_RE.match(value):
        return None, "Use only letters a-z, digits and . _ -"
    return value, None


def check_new_password(value, *, email: str = "", username: str = "") -> str | None:
    """The first problem with a new password, or None."""
    if not isinstance(value, str) or not value:
        return "Choose a password."
    if len(value) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    problems = password_problems(value, email=email or "", username=username or "")
    return problems[0] if problems else None


def plain_password(value) -> str:
    """A submitted current password, or '' (never raises on wrong types or sizes)."""
    if not isinstance(value, str) or len(value) > MAX_LENGTH * 4:
        return ""
    return value
