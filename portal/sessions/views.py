"""Sessions views: list, end one (HTMX removes the row in place), end all others."""

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user, login_required, logout_user

from portal.flows import FlowError
from portal.flows import sessions as flows
from portal.htmx import is_htmx
from portal.origin import Origin
from portal.sessions import bp
from portal.web import redirect_to


@bp.get("/sessions")
@login_required
def index():
    """Every active session of this account, newest first, 25 to a page."""
    try:
        page = flows.sessions_page(current_user, request.args.get("after"))
    except FlowError:
        return redirect_to(url_for("sessions.index"))  # an old or mangled link: start over
    return render_template(
        "sessions/index.html",
        listing=page,
        current_id=current_user.current_session.id,
    )


@bp.route("/sessions/<session_id>/end", methods=["POST", "DELETE"])
@login_required
def end(session_id: str):
    """End one session; that device is signed out on its next request."""
    # CSRFProtect has checked the token (form field, or X-CSRFToken from HTMX).
    try:
        ended = flows.end_session(current_user, session_id, Origin.of_request())
    except FlowError:
        abort(404)
    if ended.id == current_user.current_session.id:
        logout_user()
        flash("This device is signed out.", "info")
        return redirect_to(url_for("auth.sign_in"))
    if is_htmx():
        return render_template("sessions/_ended.html", ended=ended)  # row out, status in
    flash(f"Signed out {ended.device_label}.", "success")
    return redirect_to(url_for("sessions.index"))


@bp.post("/sessions/end-others")
@login_required
def end_others():
    """End every session but this one."""
    count = flows.end_other_sessions(
        current_user, current_user.current_session, Origin.of_request()
    )
    flash(
        f"Signed out {count} other session{'s' if count != 1 else ''}."
        if count
        else "There were no other sessions.",
        "success",
    )
    return redirect_to(url_for("sessions.index"))
