"""Helpers for the tests: a test client and a browser that behave as on a real server,
passwords, reading sent email, comparing pages."""

import contextvars
import json
import os
import re

from flask.testing import FlaskClient

from portal.extensions import db

# alice's password (the `user` fixture); not checked against the policy, as it was set
# directly in the database.
PASSWORD = "correct horse battery staple"
# Passes the password policy (for sign-up, reset and change forms).
STRONG_PASSWORD = "plum-velvet-orbit-canyon-42"
# Another password that passes the policy, e.g. the new one of a change or reset.
NEW_PASSWORD = "violet tractor sings at dawn"

# Browsers as they name themselves (the device labels read "Firefox on Linux", ...).
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)

CODE_RE = re.compile(r"\b(\d{6})\b")


class ClosingClient(FlaskClient):
    """A test client whose requests behave as on a real server:

    - each request runs in its own app context, so `g` (Flask-Login's user, Flask-WTF's CSRF
      token) and the database session are per request instead of shared by every request of
      the test through the app context the `app` fixture keeps pushed;
    - each response is closed once sent, as a WSGI server does, so work registered with
      `response.call_on_close` (emails sent after the response) runs.

    After each request the test's own session forgets what it had loaded, so objects the
    test holds show what the request committed."""

    def open(self, *args, **kwargs):
        # Contexts kept after a request (`with client:`, as pytest-flask's `client` does)
        # would belong to the request's own contextvars context; keep none.
        self.preserve_context = False
        kwargs.setdefault("buffered", True)
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.expire_all()
        return response


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def csrf_token(client, path: str = "/signin") -> str:
    """The CSRF token of the form on `path`, as `client` gets it."""
    return csrf_token_in(client.get(path).get_data(as_text=True))


class Browser:
    """Drives the pages as a person would: GET a form, POST it with its CSRF token."""

    def __init__(self, client, user_agent: str = FIREFOX_UA):
        self.client = client
        self.headers = {"User-Agent": user_agent}

    def get(self, path, **kwargs):
        return self.client.get(
            path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs
        )

    def csrf_token(self, page: str = "/signin") -> str:
        """The CSRF token of the form on `page`, as this browser gets it."""
        return csrf_token_in(self.get(page).get_data(as_text=True))

    def post(self, path, data=None, *, form_page: str = "/signin", htmx=False, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(self.client, form_page))
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, data=data, headers=headers, **kwargs)

    def sign_in(self, login="alice@example.com", password=PASSWORD):
        response = self.post("/signin", {"login": login, "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)
        return response

    def sign_out(self):
        return self.post("/signout", form_page="/profile")

    def sign_up(self, email="bob@example.com", username="bob", password=STRONG_PASSWORD, **kw):
        return self.post(
            "/signup",
            {"email": email, "username": username, "password": password},
            form_page="/signup",
            **kw,
        )

    def verify(self, code, email="bob@example.com", **kw):
        return self.post("/verify", {"email": email, "code": code}, form_page="/verify", **kw)

    def cookie(self, name: str = "portal") -> str | None:
        cookie = self.client.get_cookie(name)
        return cookie.value if cookie else None


def code_in(text: str) -> str:
    """The 6-digit code in an email's text."""
    return CODE_RE.search(text).group(1)


def last_code(outbox, kind: str = "verify_email", *, username: str | None = None) -> str:
    """The code in the newest email of `kind` (for a sign-up: the one naming `username`)."""
    messages = [m for m in outbox if m["kind"] == kind]
    if username is not None:
        messages = [m for m in messages if f'"{username}"' in m["text"]]
    return code_in(messages[-1]["text"])


def last_link(outbox, kind: str = "reset_password") -> str:
    """The first absolute link in the newest email of `kind`."""
    message = [m for m in outbox if m["kind"] == kind][-1]
    return re.search(r"https?://[^\s\"'<>]+", message["text"]).group(0)


def without_csrf(html: str) -> str:
    """A page with its per-session CSRF tokens blanked, to compare two answers exactly."""
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+|("X-CSRFToken": ")[^"]+', r"\1\2", html)


def deliver_held_mail() -> int:
    """Let 10 minutes pass and deliver what waited: security notices sent within 10 minutes
    of one another go out together, as one email, once the 10 minutes are over."""
    from datetime import timedelta

    from portal import clock, outbox

    clock.advance(timedelta(minutes=10, seconds=1))
    return outbox.deliver_due()


def kinds_sent(outbox) -> list[str]:
    """The kinds of every notice sent, those inside merged digests included."""
    return [k for m in outbox for k in m.get("kinds", [m["kind"]])]


def in_own_context(fn):
    """Run `fn` in a contextvars context of its own, as each request of the test client does
    (ClosingClient), so another app's context never nests in the test's own."""
    return contextvars.Context().run(fn)


def with_app(app, fn, *, request: bool = False):
    """`fn()` inside another app's context (e.g. one from `make_app`), on the test's
    transaction like that app's requests."""

    def run():
        context = app.test_request_context("/") if request else app.app_context()
        with context:
            return fn()

    return in_own_context(run)


def mail_files(app) -> list[dict]:
    directory = app.config["MAIL_FILE_DIR"]
    if not os.path.isdir(directory):
        return []
    messages = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as fh:
            messages.append(json.load(fh))
    return messages
