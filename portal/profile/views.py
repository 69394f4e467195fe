"""Profile views: each section posts to its own endpoint and re-renders only itself."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user

from portal.flows import profile
from portal.origin import Origin
from portal.profile import bp
from portal.profile.forms import (
    DeleteForm,
    EmailConfirmForm,
    EmailForm,
    PasswordForm,
    UsernameForm,
)
from portal.profile.pages import page, section, submitted
from portal.web import form_status, redirect_to


@bp.get("/")
def home():
    """Signed in: the profile. Otherwise: sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.show"))
    return redirect(url_for("auth.sign_in"))


@bp.get("/profile")
@login_required
def show():
    """Who you are, and the forms to change it."""
    return page()


@bp.post("/profile/username")
@login_required
@submitted(UsernameForm, section("username"))
def change_username(form: UsernameForm):
    profile.change_username(current_user, form.value("username"), Origin.of_request())
    flash("Your username is changed.", "success")
    return redirect_to(url_for("profile.show"))


@bp.post("/profile/email")
@login_required
@submitted(EmailForm, section("email"))
def change_email(form: EmailForm):
    """Send a code to the new address; nothing changes until it is confirmed."""
    profile.request_email_change(
        current_user,
        form.value("email"),
        form.value("password"),
        current_user.current_session,
        Origin.of_request(),
        code=form.value("code"),
    )
    flash(f"We sent a code to {current_user.pending_email}. Enter it below.", "info")
    return redirect_to(url_for("profile.show") + "#email-change")


@bp.post("/profile/email/confirm")
@login_required
@submitted(EmailConfirmForm, section("confirm"))
def confirm_email(form: EmailConfirmForm):
    profile.confirm_email_change(current_user, form.value("code"), Origin.of_request())
    flash(f"Your email is now {current_user.email}.", "success")
    return redirect_to(url_for("profile.show"))


@bp.post("/profile/email/cancel")
@login_required
def cancel_email_change():
    profile.cancel_email_change(current_user)  # CSRFProtect has checked the token
    flash("The email change is cancelled.", "info")
    return redirect_to(url_for("profile.show"))


@bp.post("/profile/password")
@login_required
@submitted(PasswordForm, section("password"))
def change_password(form: PasswordForm):
    """Current password required; every other session is ended."""
    profile.change_password(
        current_user,
        form.value("current_password"),
        form.value("new_password"),
        current_user.current_session,
        Origin.of_request(),
        code=form.value("code"),
    )
    flash("Your password is changed. Your other sessions were ended.", "success")
    return redirect_to(url_for("profile.show"))


def _delete_page(form: DeleteForm):
    return render_template("profile/delete.html", form=form), form_status(form)


@bp.route("/profile/delete", methods=["GET", "POST"])
@login_required
@submitted(DeleteForm, _delete_page)
def delete_account(form: DeleteForm):
    """Delete the account for good (password required)."""
    profile.delete_account(
        current_user,
        form.value("password"),
        current_user.current_session,
        Origin.of_request(),
        code=form.value("code"),
    )
    logout_user()
    flash("Your account is deleted. We're sorry to see you go.", "info")
    return redirect_to(url_for("auth.sign_up"))
