"""Template helpers written in Python because they run once per row of a list (a Jinja macro
call costs several times more); templates reach them through templates/_macros/lists.html."""

from datetime import datetime

from markupsafe import Markup


def when(moment: datetime | None) -> Markup:
    """A time as people read it, in UTC, with the exact instant for machines; "never" when
    there is none."""
    if moment is None:
        return Markup('<span class="muted">never</span>')
    # Both parts are digits, ASCII month names and -:.+ only: nothing to escape, and
    # Markup.format's escaping formatter costs more than the rest of a row.
    iso, shown = moment.isoformat(), moment.strftime("%-d %b %Y, %H:%M")
    return Markup(f'<time datetime="{iso}">{shown} UTC</time>')  # noqa: S704 - see above
