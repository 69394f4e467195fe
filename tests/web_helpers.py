"""Helpers for the tests: passwords, reading sent email, comparing pages."""

import json
import os
import re

PASSWORD = "correct horse battery staple"
# Passes the password policy (for sign-up, reset and change forms).
STRONG_PASSWORD = "plum-velvet-orbit-canyon-42"


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def last_code(outbox, kind: str = "verify_email") -> str:
    message = [m for m in outbox if m["kind"] == kind][-1]
    return re.search(r"\b(\d{6})\b", message["text"]).group(1)


def last_link(outbox, kind: str = "reset_password") -> str:
    """The first absolute link in the newest email of `kind`."""
    message = [m for m in outbox if m["kind"] == kind][-1]
    return re.search(r"https?://[^\s\"'<>]+", message["text"]).group(0)


def without_csrf(html: str) -> str:
    """A page with its per-session CSRF tokens blanked, to compare two answers exactly."""
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+|("X-CSRFToken": ")[^"]+', r"\1\2", html)


def mail_files(app) -> list[dict]:
    directory = app.config["MAIL_FILE_DIR"]
    if not os.path.isdir(directory):
        return []
    messages = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as fh:
            messages.append(json.load(fh))
    return messages
