"""Helpers shared by the HTML views."""

from urllib.parse import urlsplit

from flask import redirect, request, session
from flask_login import login_user

from portal.htmx import is_htmx
from portal.models import UserSession


def go(url: str, status: int = 303):
    """Redirect; HTMX is told to load the page itself instead of swapping it in."""
    if is_htmx():
        return "", 204, {"HX-Redirect": url}
    return redirect(url, status)


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: a `next` pointing elsewhere would be an open redirect."""
    if not target or not isinstance(target, str):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def start_browser_session(user_session: UserSession) -> None:
    """Put a fresh session id in a fresh cookie (anything from before sign-in is dropped)."""
    session.clear()
    session.permanent = True
    user = user_session.user  # after the flow's commit this may be a freshly loaded object
    user.session = user_session
    login_user(user)


def form_status(form) -> int:
    """422 when the form carries errors, so HTMX swaps it in and clients can tell."""
    has_errors = bool(form.form_errors) or any(f.errors for f in form)
    return 422 if has_errors and request.method == "POST" else 200
