"""Helpers shared by the HTML views."""

from urllib.parse import urlsplit

from flask import after_this_request, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadSignature, URLSafeSerializer

from portal.htmx import is_htmx
from portal.models import UserSession


def redirect_to(url: str, status: int = 303):
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
    """Put a fresh session id in a fresh cookie (anything from before sign-in is dropped),
    and remember this browser as a known device of the account."""
    session.clear()
    session.permanent = True
    user = user_session.user  # after the flow's commit this may be a freshly loaded object
    user.current_session = user_session
    login_user(user)
    _new_csrf_token()
    if user_session.device_token:
        _keep_device_cookie(user_session.device_token)


def _new_csrf_token() -> None:
    """The CSRF token from before sign-in went with the old cookie: a new one goes in the new
    cookie now, so the first page after sign-in (whose forms need one) leaves the cookie as it
    is instead of writing it again."""
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)  # this request's copy of the old one
    generate_csrf()


def end_browser_session() -> None:
    """Sign this browser out and drop everything its session cookie held (the device cookie
    stays). A browser no one is signed in on keeps what it holds (a sign-up waiting for its
    code, say)."""
    if current_user.is_authenticated:
        logout_user()
        session.clear()


def back_to_sign_in(message: str, category: str = "info"):
    """This browser's session has ended: sign it out, say why, and show the sign-in page."""
    end_browser_session()
    flash(message, category)
    return redirect_to(url_for("auth.sign_in"))


# The device cookie outlives sign-outs: it is what makes this browser "known" to an account
# (its own guessing budget, no new sign-in notice). Signed, HttpOnly, one per browser.
DEVICE_COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie


def _device_cookie_name() -> str:
    return (
        "__Host-portal-device" if current_app.config["SESSION_COOKIE_SECURE"] else "portal-device"
    )


def _device_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal-device")


def device_token() -> str | None:
    """This browser's device token, when its cookie carries a valid signature."""
    raw = request.cookies.get(_device_cookie_name())
    if not raw or len(raw) > 512:
        return None
    try:
        value = _device_signer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _keep_device_cookie(token: str) -> None:
    @after_this_request
    def _set(response):
        response.set_cookie(
            _device_cookie_name(),
            _device_signer().dumps(token),
            max_age=DEVICE_COOKIE_AGE,
            httponly=True,
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            samesite="Lax",
            path="/",
        )
        return response


def json_body() -> dict:
    """The request's JSON object (passkeys.js posts them); {} for anything else."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def form_status(form) -> int:
    """422 when the form carries errors, so HTMX swaps it in and clients can tell; 429 (with
    Retry-After, set by the error handlers' hook) when a guessing budget is spent."""
    has_errors = bool(form.form_errors) or any(f.errors for f in form)
    if not has_errors or request.method != "POST":
        return 200
    return 429 if g.get("retry_after") else 422
