"""Template helpers written in Python because they run once per row of a list (a Jinja macro
call costs several times more); templates reach them through templates/_macros/lists.html."""

from collections.abc import Callable
from datetime import datetime
from operator import itemgetter
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
    return Markup(_time_element(moment))  # noqa: S704 - see _time_element


# English month names, whatever the process's locale (strftime's %b follows it).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _time_element(moment: datetime) -> str:
    # Digits, ASCII month names and -:.+ only: nothing to escape (and Markup.format's
    # escaping formatter costs more than the rest of a row). Written out rather than by
    # strftime("%-d %b %Y, %H:%M"), which alone was a third of a Sessions page row.
    iso = moment.isoformat()  # YYYY-MM-DDTHH:MM:SS...: the hour and minute are [11:16]
    shown = f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {iso[11:16]}"
    return f'<time datetime="{iso}">{shown} UTC</time>'


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
    admin accounts list's: up to 25 a page, and as Jinja the rows were most of the page. A
    device label and an IP address are escaped; ids, links, kinds, times and the CSRF token
    are made of characters that need none."""
    if not sessions:
        return Markup("")
    pattern = url_for("sessions.end", session_id=_SLOT)
    token = escape(csrf)
    current_text = str(current_id)  # ids are text already (flows/sessions.py)
    # Columns by position, found once: a row's attributes by name cost ten times more.
    columns = itemgetter(*map(sessions[0]._fields.index, _SESSION_COLUMNS))
    # One person's sessions share a few labels and addresses: each is escaped once.
    escaped: dict[str, Markup] = {}
    rows = []
    for session_id, kind, label, address, started, seen in map(columns, sessions):
        this_device = session_id == current_text
        badge = ' <span class="badge current">This device</span>' if this_device else ""
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
        label = escaped.get(label) or escaped.setdefault(label, escape(label))
        address = address or "unknown"
        address = escaped.get(address) or escaped.setdefault(address, escape(address))
        rows.append(
            f'<tr id="session-{session_id}">\n'
            f'  <td data-label="Device">\n'
            f"    <strong>{label}</strong>\n"
            f'    <span class="badge">{"App" if kind == "api" else "Browser"}</span>{badge}\n'
            "  </td>\n"
            f'  <td data-label="IP address">{address}</td>\n'
            f'  <td data-label="Started">{_time_element(started)}</td>\n'
            f'  <td data-label="Last seen">{_time_element(seen)}</td>\n'
            f"  <td>{action}</td>\n"
            "</tr>"
        )
    return Markup("\n".join(rows))  # noqa: S704 - every part escaped or fixed, see above


# What session_rows shows of a row, in the order it unpacks them.
_SESSION_COLUMNS = ("id", "kind", "device_label", "ip_address", "created_at", "last_seen_at")
