"""Checks every request passes before any view runs (README "Rules worth knowing").

- Text the database cannot store: a NUL character, or a lone surrogate (which cannot be
  encoded), in any query argument or form field is bad input: 400 on pages, 422
  `validation_error` under /api/ (JSON bodies are checked by the API's schemas, path segments
  by the views that parse them). Without this, PostgreSQL refuses the statement and the
  person sees a 500.
- Cross-site requests: pages are cookie-authenticated, so a POST/PUT/PATCH/DELETE that a
  browser says came from another site is refused with 403 even with a valid CSRF token
  (defence in depth should the token ever leak). Browsers that send Fetch Metadata are
  trusted on `Sec-Fetch-Site`; older ones are judged by `Origin`; a request with neither
  (curl, scripts) relies on the CSRF token alone. The API is token-authenticated and exempt.
"""

import logging
import re
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from portal.errors import error_page
from portal.problems import problem

log = logging.getLogger(__name__)

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _unstorable(value) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if not isinstance(value, str) or not UNSTORABLE.search(value):
        return None
    return "Must not contain NUL characters." if "\x00" in value else "Must be valid Unicode text."


def _fields():
    """Every (name, value) a view could read as text; the API's JSON bodies are left to its
    schemas. (Most requests have neither: nothing is parsed for them.)"""
    if request.query_string:
        yield from request.args.items(multi=True)
    if request.content_length and not _is_api():
        yield from request.form.items(multi=True)


def _first_unstorable_field() -> tuple[str, str] | None:
    for name, value in _fields():
        reason = _unstorable(name) or _unstorable(value)
        if reason:
            return UNSTORABLE.sub("\ufffd", name), reason
    return None


def refuse_unstorable_text():
    found = _first_unstorable_field()
    if found is None:
        return None
    name, reason = found
    if _is_api():
        return problem(422, "validation_error", reason, errors={name: [reason]})
    return error_page(
        400,
        "Something you sent contains characters we can't accept (a NUL character or broken "
        "Unicode). Go back, correct it and try again.",
    )


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None for anything unparsable
    (including the literal `null` sandboxed pages send)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _trusted_origins() -> set:
    own = {_origin(current_app.config["PORTAL_BASE_URL"]), _origin(request.host_url)}
    return own - {None}


def is_cross_site() -> bool:
    """Whether the browser tells us this request was started by another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        # Browsers set it and pages cannot forge it: same-origin, same-site (a sibling
        # subdomain, still unable to read our CSRF token) and none (typed, bookmarked) pass.
        return fetch_site.strip().lower() == "cross-site"
    origin = request.headers.get("Origin")
    return origin is not None and _origin(origin) not in _trusted_origins()


def refuse_cross_site():
    if request.method not in UNSAFE_METHODS or _is_api() or not is_cross_site():
        return None
    log.warning(
        "cross_site_request_refused",
        extra={
            "path": request.path,
            "fetch_site": request.headers.get("Sec-Fetch-Site", "")[:40],
            "origin": request.headers.get("Origin", "")[:200],
        },
    )
    return error_page(
        403,
        "This request came from another site, so it was refused. Open the portal itself "
        "and try again there.",
    )


def init_app(app: Flask) -> None:
    # Registered before CSRFProtect and the rate limiter, so a refused request is refused
    # the same way whatever its token, and costs nobody's rate-limit budget.
    app.before_request(refuse_cross_site)
    app.before_request(refuse_unstorable_text)
