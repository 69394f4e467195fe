"""Template helpers written in Python because they run once per row of a list (a Jinja macro
call costs several times more); templates reach them through templates/_macros/lists.html."""

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote
from uuid import UUID

from flask import request, url_for
from markupsafe import Markup, escape

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
    "verified": '<span class="badge ok">Verified</span>',
    "unverified": '<span class="badge warn">Unverified</span>',
    "disabled": '<span class="badge danger">Disabled</span>',
    "admin": '<span class="badge current">Admin</span>',
}
# An account's badges for each of the eight combinations of its three flags, made once.
_BADGE_SETS = {
    (verified, active, admin): Markup(  # noqa: S704 - fixed markup only
        "\n".join(
            [_BADGES["verified" if verified else "unverified"]]
            + ([] if active else [_BADGES["disabled"]])
            + ([_BADGES["admin"]] if admin else [])
        )
    )
    for verified in (True, False)
    for active in (True, False)
    for admin in (True, False)
}


def account_badges(account) -> Markup:
    """An account's status as badges (templates/admin/_badges.html)."""
    return _BADGE_SETS[bool(account.is_verified), bool(account.is_active), bool(account.is_admin)]


def account_rows(accounts) -> Markup:
    """The rows of the admin accounts list (templates/admin/_users.html). The list is the
    admin's hot path (HTMX searches as they type, 25 rows a page), and as Jinja, with its
    per-row calls and escaping, the rows cost twice the rest of the answer: they are made
    here, with the same escaping (an email or username is escaped; ids, links, badges and
    times are made of characters that need none)."""
    pattern = url_for("admin.user", user_id=_SLOT)
    rows = []
    for account in accounts:
        account_id = str(account.id)
        rows.append(
            f'<tr id="user-{account_id}">\n'
            f'  <td data-label="Email"><a href="{pattern.replace(_SLOT, account_id)}">'
            f"{escape(account.email)}</a></td>\n"
            f'  <td data-label="Username">{escape(account.username)}</td>\n'
            f'  <td data-label="Status">{account_badges(account)}</td>\n'
            f'  <td data-label="Last sign-in">{when(account.last_login_at)}</td>\n'
            "</tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - every part escaped or fixed, see above


def session_rows(sessions, current_id, csrf: str) -> Markup:
    """The rows of the Sessions page (templates/sessions/index.html), made here like the
    admin accounts list's: up to 50 a page, and as Jinja the rows were most of the page. A
    device label and an IP address are escaped; ids, links, kinds, times and the CSRF token
    are made of characters that need none."""
    pattern = url_for("sessions.end", session_id=_SLOT)
    token = escape(csrf)
    rows = []
    for session in sessions:
        session_id = str(session.id)
        kind = "App" if session.kind == "api" else "Browser"
        this_device = session.id == current_id
        current = ' <span class="badge current">This device</span>' if this_device else ""
        action = ""
        if not this_device:
            end = pattern.replace(_SLOT, session_id)
            action = (
                f'<form method="post" action="{end}" class="inline" hx-delete="{end}" '
                'hx-params="none">\n'
                f'  <input type="hidden" name="csrf_token" value="{token}">\n'
                '  <button type="submit" class="danger secondary">Sign out</button>\n'
                "</form>"
            )
        rows.append(
            f'<tr id="session-{session_id}">\n'
            f'  <td data-label="Device">\n'
            f"    <strong>{escape(session.device_label)}</strong>\n"
            f'    <span class="badge">{kind}</span>{current}\n'
            "  </td>\n"
            f'  <td data-label="IP address">{escape(session.ip_address or "unknown")}</td>\n'
            f'  <td data-label="Started">{when(session.created_at)}</td>\n'
            f'  <td data-label="Last seen">{when(session.last_seen_at)}</td>\n'
            f"  <td>{action}</td>\n"
            "</tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - every part escaped or fixed, see above
