"""Activity view: what happened to this account, newest first, a page at a time."""

from flask import request
from flask_login import current_user, login_required

from portal.activity import bp
from portal.flows import activity
from portal.htmx import render_page_or_partial


@bp.get("/activity")
@login_required
def index():
    """Sign-ins, wrong passwords, changes and sessions ended, in plain words."""
    page = activity.own_activity(
        current_user,
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    return render_page_or_partial(
        "activity/index.html",
        "activity/_events.html",
        listing=page,
    )
