"""What admins do to other accounts. Every action is a security event with the admin as actor."""

import uuid

from sqlalchemy import func, select

from portal.client import Client
from portal.extensions import db
from portal.flows import FlowError, events
from portal.flows.accounts import try_send
from portal.models import User


def get_user(user_id) -> User:
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise FlowError("not_found", "There is no such user.") from None
    user = db.session.get(User, uid)
    if user is None:
        raise FlowError("not_found", "There is no such user.")
    return user


def admin_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.is_admin)) or 0


def _not_on_self(admin: User, user: User, action: str) -> None:
    if admin.id == user.id:
        raise FlowError("forbidden", f"You cannot {action} your own account.")
    if user.is_admin and admin_count() <= 1:
        raise FlowError("forbidden", f"You cannot {action} the last admin.")


def delete_user(admin: User, user_id, client: Client) -> None:
    """Delete another account for good; its owner is told by email."""
    user = get_user(user_id)
    _not_on_self(admin, user, "delete")
    email, username = user.email, user.username
    events.record("account_deleted", user, client=client, actor=admin)
    db.session.delete(user)
    db.session.commit()
    try_send(email, "account_deleted", username=username)
