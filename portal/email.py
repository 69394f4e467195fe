"""Emails: `build_message` renders a .txt + .html pair, `deliver` hands a message to the
configured backend. Flows never call these: they queue through portal/outbox.py.

The only module that knows Resend. Backends: `resend` (production), `console` (prints),
`file` (one JSON file per message in MAIL_FILE_DIR, for people and black-box tests).
"""

import json
import logging
import os
import uuid

from blinker import signal
from flask import current_app, render_template

from portal import clock

log = logging.getLogger(__name__)

# Fired after each message is handed to the backend; the tests' `outbox` listens.
email_sent = signal("portal-email-sent")

SUBJECTS = {
    "verify_email": "Your Portal confirmation code",
    "account_exists": "You already have a Portal account",
    "reset_password": "Reset your Portal password",
    "password_changed": "Your Portal password was changed",
    "email_change": "Confirm your new Portal email address",
    "email_changed": "The email address of your Portal account was changed",
    "token_reuse_alert": "We ended a session of yours to protect your account",
    "account_deleted": "Your Portal account was deleted",
    "new_sign_in": "New sign-in to your Portal account",
    "account_locked": "Someone is trying to get into your Portal account",
    "mfa_enabled": "Two-step sign-in is on for your Portal account",
    "mfa_disabled": "Two-step sign-in was turned off for your Portal account",
    "recovery_code_used": "A recovery code was used for your Portal account",
    "passkey_added": "A passkey was added to your Portal account",
    "second_step_failed": "Someone has your Portal password: a wrong sign-in code was typed",
}


class EmailError(RuntimeError):
    """The message could not be handed to the mail service."""


def send_email(to: str, kind: str, **context) -> None:
    """Render templates/email/<kind>.{txt,html} and send them to one address now."""
    deliver(build_message(to, kind, context))


def build_message(to: str, kind: str, context: dict) -> dict:
    context.setdefault("base_url", current_app.config["PORTAL_BASE_URL"])
    return {
        "to": [to],
        "subject": SUBJECTS[kind],
        "text": render_template(f"email/{kind}.txt", **context),
        "html": render_template(f"email/{kind}.html", **context),
        "kind": kind,
    }


def deliver(message: dict, *, idempotency_key: str | None = None) -> None:
    """Hand one message to the mail service; EmailError when it could not be."""
    backend = current_app.config["MAIL_BACKEND"]
    key = idempotency_key or uuid.uuid4().hex
    try:
        if backend == "resend":
            _send_resend(message, key)
        else:
            {"console": _send_console, "file": _send_file}[backend](message)
    except Exception as exc:  # any failure of the mail service is one kind of failure here
        log.warning("email_failed", extra={"kind": message["kind"], "error": type(exc).__name__})
        raise EmailError(str(exc)) from exc
    log.info("email_sent", extra={"kind": message["kind"], "backend": backend})
    email_sent.send(current_app._get_current_object(), message=message)


RESEND_TIMEOUT = 10  # seconds: a stuck connection must not hold a worker


def _send_resend(message: dict, idempotency_key: str) -> None:
    import resend
    from resend.http_client_requests import RequestsClient

    resend.api_key = current_app.config["RESEND_API_KEY"]
    resend.default_http_client = RequestsClient(timeout=RESEND_TIMEOUT)
    params = {
        "from": current_app.config["MAIL_FROM"],
        "to": message["to"],
        "subject": message["subject"],
        "text": message["text"],
        "html": message["html"],
        "tags": [{"name": "kind", "value": message["kind"]}],
    }
    # One quick retry when the network or Resend itself failed (the outbox retries later with
    # backoff); the row's idempotency key makes sure an attempt that did reach Resend, now or
    # in an earlier try of the same row, is not sent twice.
    options = {"idempotency_key": idempotency_key}
    try:
        resend.Emails.send(params, options)
    except resend.exceptions.ResendError as exc:
        if not _transient(exc):
            raise
        log.info("email_retry", extra={"kind": message["kind"], "error": exc.error_type})
        resend.Emails.send(params, options)


def _transient(exc) -> bool:
    try:
        status = int(exc.code)
    except (TypeError, ValueError):
        return False
    return status >= 500 or exc.error_type == "HttpClientError"


def _send_console(message: dict) -> None:
    print(  # noqa: T201 - the console backend's whole point
        f"\n--- email to {', '.join(message['to'])}: {message['subject']} ---\n"
        f"{message['text']}\n--- end of email ---\n",
        flush=True,
    )


def _send_file(message: dict) -> None:
    directory = current_app.config["MAIL_FILE_DIR"]
    os.makedirs(directory, exist_ok=True)
    stamp = clock.utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = os.path.join(directory, f"{stamp}-{message['kind']}-{uuid.uuid4().hex[:8]}.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(message, fh, ensure_ascii=False, indent=2)
