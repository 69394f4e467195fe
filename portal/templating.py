"""Template helpers written in Python because they run once per row of a list (a Jinja macro
call costs several times more); templates reach them through templates/_macros/lists.html."""

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote
from uuid import UUID

from flask import request, url_for
from markupsafe import Markup

_SLOT = "__row__"


def when(moment: datetime | None) -> Markup:
    """A time as people read it, in UTC, with the exact instant for machines; "never" when
    there is none."""
    if moment is None:
        return Markup('<span class="muted">never</span>')
    # Both parts are digits, ASCII month names and -:.+ only: nothing to escape, and
    # Markup.format's escaping formatter costs more than the rest of a row.
    iso, shown = moment.isoformat(), moment.strftime("%-d %b %Y, %H:%M")
    return Markup(f'<time datetime="{iso}">{shown} UTC</time>')  # noqa: S704 - see above


def row_url(endpoint: str, argument: str) -> Callable[[object], str]:
    """url_for(endpoint, argument=value) for the rows of one list: the URL is built once and
    only the value changes from row to row (a url_for per row was a tenth of a list)."""
    pattern = url_for(endpoint, **{argument: _SLOT})

    def url(value) -> str:
        # A UUID is hex and hyphens: nothing to quote (rows are mostly ids).
        text = str(value) if isinstance(value, UUID) else quote(str(value), safe="")
        return pattern.replace(_SLOT, text)

    return url


_fixed_urls: dict[tuple, str] = {}


def fixed_url(endpoint: str, **values) -> str:
    """url_for for the links every page carries that never change (assets, pages without
    arguments), made once per mount point instead of on every page."""
    key = (request.script_root, endpoint, tuple(sorted(values.items())))
    url = _fixed_urls.get(key)
    if url is None:
        url = _fixed_urls[key] = url_for(endpoint, **values)
    return url


_BADGES = {
    "verified": Markup('<span class="badge ok">Verified</span>'),
    "unverified": Markup('<span class="badge warn">Unverified</span>'),
    "disabled": Markup('<span class="badge danger">Disabled</span>'),
    "admin": Markup('<span class="badge current">Admin</span>'),
}


def account_badges(account) -> Markup:
    """An account's status as badges (templates/admin/_badges.html: one call per row)."""
    shown = [_BADGES["verified" if account.is_verified else "unverified"]]
    if not account.is_active:
        shown.append(_BADGES["disabled"])
    if account.is_admin:
        shown.append(_BADGES["admin"])
    return Markup("\n").join(shown)
