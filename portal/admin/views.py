"""Admin views: translate requests to the admin flows and the flows back to pages.

Every change is a POST (or DELETE from HTMX) checked by the global CSRFProtect, and every
flow records a security event with the signed-in admin as actor."""

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user, logout_user

from portal.admin import bp
from portal.flows import FlowError, activity, budget, mfa, passkeys
from portal.flows import admin as flows
from portal.flows.sessions import active_sessions
from portal.htmx import is_htmx, render_page_or_partial
from portal.origin import Origin
from portal.web import redirect_to


def _user_or_404(user_id):
    try:
        return flows.get_user(user_id)
    except FlowError:
        abort(404)


@bp.get("/")
def users():
    """Find accounts by the start of their email or username."""
    query = request.args.get("q", "").strip()[:254]
    page = flows.search_users(
        query,
        after=request.args.get("after"),
        before=request.args.get("before"),
    )
    return render_page_or_partial(
        "admin/users.html", "admin/_users.html", query=query, listing=page
    )


def _account(user) -> dict:
    """What the account page and its sessions card show of the account."""
    return {
        "user": user,
        "sessions": active_sessions(user),
        "events": flows.recent_events(user),
        "locked_until": budget.locked_until(user),
    }


def _user_page(user, status: int = 200, **context):
    """One account: profile, active sessions, recent events, actions."""
    context.setdefault("error", None)
    context.setdefault("form_target", None)
    context.setdefault("reason", "")
    return (
        render_template(
            "admin/user.html",
            **_account(user),
            passkey_list=passkeys.list_passkeys(user),
            **context,
        ),
        status,
    )


@bp.get("/users/<user_id>")
def user(user_id: str):
    return _user_page(_user_or_404(user_id))


def _sessions_answer(user, *, status=200, notice=None, error=None, form_target=None, reason=""):
    """After ending sessions: HTMX gets the sessions card (and the events, out of band),
    everyone else the whole page (errors) or a redirect (success)."""
    if is_htmx():
        return render_page_or_partial(
            "admin/user.html",
            "admin/_sessions_changed.html",
            status,
            **_account(user),
            notice=notice,
            error=error,
            form_target=form_target,
            reason=reason,
        )
    if status >= 400:
        return _user_page(user, status, error=error, form_target=form_target, reason=reason)
    flash(notice, "success")
    return redirect_to(url_for("admin.user", user_id=user.id))


@bp.route("/users/<user_id>/sessions/<session_id>", methods=["DELETE"])
@bp.post("/users/<user_id>/sessions/<session_id>/end")
def end_session(user_id: str, session_id: str):
    """End one session with a reason the owner will see."""
    user = _user_or_404(user_id)
    reason = request.values.get("reason", "")
    try:
        ended = flows.end_user_session(
            current_user, user.id, session_id, reason, Origin.of_request()
        )
    except FlowError as error:
        if error.code == "not_found":
            abort(404)
        return _sessions_answer(
            user, status=422, error=error.message, form_target=session_id, reason=reason
        )
    if ended.id == current_user.current_session.id:
        logout_user()
        return redirect_to(url_for("auth.sign_in"))
    return _sessions_answer(user, notice=f"Ended the session on {ended.device_label}.")


@bp.post("/users/<user_id>/sessions/end-all")
def end_all_sessions(user_id: str):
    """End every session of the account (an admin acting on themselves keeps this one)."""
    user = _user_or_404(user_id)
    reason = request.form.get("reason", "")
    try:
        count = flows.end_all_user_sessions(current_user, user.id, reason, Origin.of_request())
    except FlowError as error:
        return _sessions_answer(
            user, status=422, error=error.message, form_target="all", reason=reason
        )
    plural = "" if count == 1 else "s"
    return _sessions_answer(user, notice=f"Ended {count} session{plural}.")


def _act(user, action, success, *, form_target: str = "account", reason: str = ""):
    """Run an account action and say `success` (a text, or one made from what the action
    returns); refusals (self, last admin) re-render the page with a 403, a bad reason with a
    422."""
    try:
        result = action()
    except FlowError as error:
        if error.code == "not_found":
            abort(404)
        status = 422 if error.code == "validation_error" else 403
        return _user_page(user, status, error=error.message, form_target=form_target, reason=reason)
    flash(success(result) if callable(success) else success, "success")
    return redirect_to(url_for("admin.user", user_id=user.id))


@bp.post("/users/<user_id>/disable")
def disable(user_id: str):
    """Block sign-in and end every session."""
    user = _user_or_404(user_id)
    reason = request.form.get("reason", "")
    return _act(
        user,
        lambda: flows.disable_user(current_user, user.id, Origin.of_request(), reason),
        f"{user.email} is disabled and signed out everywhere.",
    )


@bp.post("/users/<user_id>/enable")
def enable(user_id: str):
    user = _user_or_404(user_id)
    return _act(
        user,
        lambda: flows.enable_user(current_user, user.id, Origin.of_request()),
        f"{user.email} can sign in again.",
    )


@bp.post("/users/<user_id>/unlock")
def unlock(user_id: str):
    """Clear the sign-in lock after too many wrong tries (the owner asked support)."""
    user = _user_or_404(user_id)
    return _act(
        user,
        lambda: flows.unlock_user(current_user, user, Origin.of_request()),
        f"{user.email} can try to sign in again at once.",
    )


@bp.post("/users/<user_id>/mfa/reset")
def reset_mfa(user_id: str):
    """Remove the authenticator app, recovery codes and passkeys (lost phone), with a reason
    the owner reads; they are emailed."""
    user = _user_or_404(user_id)
    reason = request.form.get("reason", "")
    return _act(
        user,
        lambda: mfa.reset_second_factors(current_user, user, reason, Origin.of_request()),
        f"Two-step sign-in of {user.email} is reset: password only until they set it up.",
        form_target="mfa",
        reason=reason,
    )


@bp.post("/users/<user_id>/passkeys/<passkey_id>/remove")
def remove_passkey(user_id: str, passkey_id: str):
    """Remove one passkey of the account (a lost or stolen device)."""
    user = _user_or_404(user_id)
    reason = request.form.get("reason", "")
    return _act(
        user,
        lambda: passkeys.remove_by_admin(
            current_user, user, passkey_id, reason, Origin.of_request()
        ),
        lambda name: f"The passkey “{name}” of {user.email} is removed.",
        form_target="mfa",
        reason=reason,
    )


@bp.post("/users/<user_id>/promote")
def promote(user_id: str):
    user = _user_or_404(user_id)
    return _act(
        user,
        lambda: flows.promote(current_user, user, Origin.of_request()),
        f"{user.email} is now an admin.",
    )


@bp.post("/users/<user_id>/demote")
def demote(user_id: str):
    user = _user_or_404(user_id)
    return _act(
        user,
        lambda: flows.demote(current_user, user, Origin.of_request()),
        f"{user.email} is no longer an admin.",
    )


@bp.get("/users/<user_id>/delete")
def confirm_delete(user_id: str):
    """Deleting is for good: ask first."""
    user = _user_or_404(user_id)
    return render_template("admin/confirm_delete.html", user=user)


@bp.route("/users/<user_id>", methods=["DELETE"])
@bp.post("/users/<user_id>/delete")
def delete(user_id: str):
    user = _user_or_404(user_id)
    email = user.email
    try:
        flows.delete_user(current_user, user.id, Origin.of_request())
    except FlowError as error:
        return _user_page(user, 403, error=error.message, form_target="account")
    flash(f"{email} is deleted; its owner was told by email.", "success")
    return redirect_to(url_for("admin.users"))


@bp.get("/events")
def events():
    """Recent security events of every account, filterable by kind (and by account)."""
    kind = request.args.get("kind", "").strip()[:40] or None
    subject = None
    if request.args.get("user"):
        subject = _user_or_404(request.args["user"])
    page = activity.events_page(
        user=subject, kind=kind, after=request.args.get("after"), before=request.args.get("before")
    )
    return render_page_or_partial(
        "admin/events.html",
        "admin/_events.html",
        listing=page,
        kind=kind,
        subject=subject,
        kinds=activity.KINDS,
    )
