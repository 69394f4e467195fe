"""Template helpers written in Python because they run once per row of a list (a Jinja macro
call costs several times more); templates reach them through templates/_macros/lists.html."""

from datetime import datetime

from markupsafe import Markup


def when(moment: datetime | None) -> Markup:
    """A time as people read it, in UTC, with the exact instant for machines; "never" when
    there is none."""
    if moment is None:
        return Markup('<span class="muted">never</span>')
    return Markup('<time datetime="{}">{} UTC</time>').format(
        moment.isoformat(), moment.strftime("%-d %b %Y, %H:%M")
    )
