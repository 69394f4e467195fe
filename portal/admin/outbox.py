"""Admin: the email outbox (what waits, what went, what failed and why; never the content)."""

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user

from portal import outbox
from portal.admin import bp
from portal.flows import FlowError
from portal.origin import Origin
from portal.web import redirect_to


@bp.get("/outbox")
def outbox_page():
    status = request.args.get("status") or None
    listing = outbox.listing(status, request.args.get("after"), request.args.get("before"))
    return render_template(
        "admin/outbox.html",
        listing=listing,
        status=status,
        statuses=outbox.STATUSES,
        age=outbox.pending_age(),
    )


@bp.post("/outbox/<int:message_id>/retry")
def retry_email(message_id: int):
    """Send a failed email again (it keeps its content encrypted until it goes)."""
    try:
        outbox.retry(current_user, message_id, Origin.of_request())
    except FlowError:
        abort(404)
    flash("The email will be sent again.", "success")
    return redirect_to(url_for("admin.outbox_page", status=request.args.get("status") or None))
