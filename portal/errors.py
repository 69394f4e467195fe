"""Error answers: a readable page for people, problem+json under /api/."""

import contextlib
import logging

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from portal.extensions import db, login_manager
from portal.problem_codes import OTHER
from portal.problems import problem

log = logging.getLogger(__name__)

# The code an HTTP error (werkzeug, the rate limiter) answers with under /api/.
CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

MESSAGES = {
    403: "You don't have access to this page.",
    404: "There is nothing at this address.",
    405: "That action is not available here.",
    413: "That was more than we accept in one go.",
    429: "Too many attempts. Wait a minute and try again.",
}

UNAVAILABLE = "We can't reach our database just now. Wait a few seconds and try again."
# Seconds a client should wait before trying again when the database is away.
UNAVAILABLE_RETRY_AFTER = "5"


def wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def _retry_after(error) -> dict:
    value = getattr(error, "retry_after", None)
    if value is None:
        limit = getattr(error, "limit", None)
        value = getattr(getattr(limit, "limit", None), "get_expiry", lambda: 60)()
    return {"Retry-After": str(int(value))}


def error_page(status: int, message: str):
    """The error page people see, with `message` under its heading."""
    return render_template("error.html", status=status, message=message), status


def database_unavailable(error: Exception) -> bool:
    """The database is down, restarting or out of connections (not a bug of ours)."""
    if isinstance(error, PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and (
        error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    )


def _unavailable(error: Exception):
    """503 while PostgreSQL is away: a warning (no traceback: nothing to fix in the code) and
    an answer that asks to come back in a few seconds."""
    log.warning(
        "database_unavailable",
        extra={"error": type(getattr(error, "orig", None) or error).__name__},
    )
    with contextlib.suppress(DBAPIError):  # the connection is gone; the pool replaces it
        db.session.rollback()
    # The page's header asks who is signed in: answer "nobody" without the database.
    g._login_user = login_manager.anonymous_user()
    headers = {"Retry-After": UNAVAILABLE_RETRY_AFTER}
    if wants_problem_json():
        return problem(503, "unavailable", UNAVAILABLE, headers=headers)
    response = current_app.make_response(error_page(503, UNAVAILABLE))
    response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if wants_problem_json():
            return problem(400, "csrf_failed", "The CSRF token is missing or invalid.")
        return error_page(400, "This form has expired. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        headers = _retry_after(error) if status == 429 else {}
        if wants_problem_json():
            detail = MESSAGES.get(status) or error.description or "Error"
            response = problem(status, CODES.get(status, OTHER), detail, headers=headers)
            if status == 405 and getattr(error, "valid_methods", None):
                response.headers["Allow"] = ", ".join(error.valid_methods)
            return response
        message = MESSAGES.get(status) or error.description
        response = app.make_response(error_page(status, message))
        response.headers.update(headers)
        if status == 405 and getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeoutError)
    def database_error(error: Exception):
        if database_unavailable(error):
            return _unavailable(error)
        return unexpected(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled_error")
        db.session.rollback()
        if wants_problem_json():
            return problem(500, "internal_error", "Something went wrong on our side.")
        return error_page(500, "Something went wrong on our side.")

    # The same headers on every answer: built once (a view may still set its own).
    always = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # No-referrer keeps reset-link tokens out of other sites' logs.
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
        ),
    }
    if app.config["SESSION_COOKIE_SECURE"]:
        always["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"

    always_items = [(name.lower(), name, value) for name, value in always.items()]

    @app.after_request
    def security_headers(response):
        if g.get("retry_after") and response.status_code == 429:  # a spent guessing budget
            response.headers.setdefault("Retry-After", str(g.retry_after))
        headers = response.headers
        # Every answer gets these: the names it already has are read once and the rest
        # added in one go (a look-up and a set per header was half this hook's time).
        present = {name.lower() for name, _ in headers.items()}
        headers.extend([(name, value) for low, name, value in always_items if low not in present])
        endpoint = request.endpoint
        if (
            endpoint
            and not endpoint.startswith(("static", "health"))
            and "cache-control" not in present
        ):
            headers.add("Cache-Control", "no-store")
        return response
