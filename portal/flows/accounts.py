"""Looking accounts up and mailing their owners, shared by the flows."""

import logging

from sqlalchemy import or_, select

from portal.email import EmailError, send_email
from portal.extensions import db
from portal.flows import codes
from portal.models import User

log = logging.getLogger(__name__)

VERIFY = "verify_email"


def find_by_email(email: str | None) -> User | None:
    if not email:
        return None
    return db.session.scalar(select(User).where(User.email == email))


def find_by_login(login: str) -> User | None:
    """By email or username (both stored lower-case)."""
    if "\x00" in login:  # PostgreSQL refuses NUL in text; no account could match it
        return None
    return db.session.scalar(select(User).where(or_(User.email == login, User.username == login)))


def try_send(to: str, kind: str, **context) -> bool:
    """Send, and report failure instead of raising: the action the email follows stands."""
    try:
        send_email(to, kind, **context)
    except EmailError:
        return False
    return True


def send_verification_code(user: User) -> bool:
    """Issue a fresh code (superseding the old one), commit, email it. When the mail service
    fails the code is discarded, so "resend code" is allowed at once."""
    code = codes.issue_code(user, VERIFY)
    db.session.commit()
    if try_send(user.email, VERIFY, code=code, user=user, minutes=15):
        return True
    codes.discard_codes(user, VERIFY)
    db.session.commit()
    return False
