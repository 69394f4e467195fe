"""Admin pages: find users, end their sessions, disable, delete, see what happened."""

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user

from portal.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_admin():
    """Anonymous people are sent to sign in; signed-in people who are not admins get 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    from portal.flows import mfa
    from portal.web import redirect_to

    if not mfa.admin_may_act(current_user.current_session):  # ADMIN_REQUIRE_MFA
        flash(mfa.ADMIN_NEEDS_MFA, "error")
        return redirect_to(url_for("profile.show") + "#two-step")
    return None


from portal.admin import outbox, views  # noqa: E402, F401
