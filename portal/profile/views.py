"""Profile views: each section posts to its own endpoint and re-renders only itself."""

from flask import flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user

from portal.client import Client
from portal.flows import FlowError, profile
from portal.htmx import render_page_or_partial
from portal.profile import bp
from portal.profile.forms import (
    DeleteForm,
    EmailConfirmForm,
    EmailForm,
    EmptyForm,
    PasswordForm,
    UsernameForm,
)
from portal.profile.second_factor import second_factor_context, second_factor_forms
from portal.web import form_status, go


@bp.get("/")
def home():
    """Signed in: the profile. Otherwise: sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("profile.show"))
    return redirect(url_for("auth.sign_in"))


def _page(section: str | None = None, form=None):
    """The whole profile page, or (HTMX) only the section that was submitted."""
    forms = {
        "username_form": UsernameForm(formdata=None, username=current_user.username),
        "email_form": EmailForm(formdata=None),
        "confirm_form": EmailConfirmForm(formdata=None),
        "password_form": PasswordForm(formdata=None),
        "cancel_form": EmptyForm(formdata=None),
        **second_factor_forms(),
    }
    status = 200
    if section:
        forms[f"{section}_form"] = form
        status = form_status(form)
    partial = f"profile/_{section}.html" if section else "profile/show.html"
    return render_page_or_partial(
        "profile/show.html", partial, status, user=current_user, **second_factor_context(), **forms
    )


def _signed_out(error: FlowError):
    """Too many wrong passwords ended this session: the browser is signed out and told why."""
    logout_user()
    session.clear()
    flash(error.message, "error")
    return go(url_for("auth.sign_in"))


@bp.get("/profile")
@login_required
def show():
    """Who you are, and the forms to change it."""
    return _page()


@bp.post("/profile/username")
@login_required
def change_username():
    form = UsernameForm()
    if form.validate_on_submit():
        try:
            profile.change_username(current_user, form.value("username"), Client.from_request())
        except FlowError as error:
            form.show(error)
        else:
            flash("Your username is changed.", "success")
            return go(url_for("profile.show"))
    return _page("username", form)


@bp.post("/profile/email")
@login_required
def change_email():
    """Send a code to the new address; nothing changes until it is confirmed."""
    form = EmailForm()
    if form.validate_on_submit():
        try:
            profile.request_email_change(
                current_user,
                form.value("email"),
                form.value("password"),
                current_user.session,
                Client.from_request(),
                code=form.value("code"),
            )
        except FlowError as error:
            if error.code == "session_ended":
                return _signed_out(error)
            form.show(error)
        else:
            flash(f"We sent a code to {current_user.pending_email}. Enter it below.", "info")
            return go(url_for("profile.show") + "#email-change")
    return _page("email", form)


@bp.post("/profile/email/confirm")
@login_required
def confirm_email():
    form = EmailConfirmForm()
    if form.validate_on_submit():
        try:
            profile.confirm_email_change(current_user, form.value("code"), Client.from_request())
        except FlowError as error:
            form.show(error)
        else:
            flash(f"Your email is now {current_user.email}.", "success")
            return go(url_for("profile.show"))
    return _page("confirm", form)


@bp.post("/profile/email/cancel")
@login_required
def cancel_email_change():
    profile.cancel_email_change(current_user)  # CSRFProtect has checked the token
    flash("The email change is cancelled.", "info")
    return go(url_for("profile.show"))


@bp.post("/profile/password")
@login_required
def change_password():
    """Current password required; every other session is ended."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            profile.change_password(
                current_user,
                form.value("current_password"),
                form.value("new_password"),
                current_user.session,
                Client.from_request(),
                code=form.value("code"),
            )
        except FlowError as error:
            if error.code == "session_ended":
                return _signed_out(error)
            form.show(error)
        else:
            flash("Your password is changed. Your other sessions were ended.", "success")
            return go(url_for("profile.show"))
    return _page("password", form)


@bp.route("/profile/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    """Delete the account for good (password required)."""
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            profile.delete_account(
                current_user,
                form.value("password"),
                current_user.session,
                Client.from_request(),
                code=form.value("code"),
            )
        except FlowError as error:
            if error.code == "session_ended":
                return _signed_out(error)
            form.show(error)
        else:
            logout_user()
            flash("Your account is deleted. We're sorry to see you go.", "info")
            return go(url_for("auth.sign_up"))
    return render_template("profile/delete.html", form=form), form_status(form)
