"""The profile page and how its forms answer: each section posts to its own endpoint and
re-renders only itself; re-authentication that fails too often signs the browser out."""

from collections.abc import Callable
from functools import wraps

from flask_login import current_user

from portal.flows import FlowError, passkeys, reauth
from portal.forms import EmptyForm, PortalForm
from portal.htmx import render_page_or_partial
from portal.profile.forms import (
    EmailConfirmForm,
    EmailForm,
    PasswordForm,
    ReauthForm,
    UsernameForm,
)
from portal.web import back_to_sign_in, form_status


def page(section: str | None = None, form=None):
    """The whole profile page, or (HTMX) only the section that was submitted."""
    forms = {
        "username_form": UsernameForm(formdata=None, username=current_user.username),
        "email_form": EmailForm(formdata=None),
        "confirm_form": EmailConfirmForm(formdata=None),
        "password_form": PasswordForm(formdata=None),
        "cancel_form": EmptyForm(formdata=None),
        "reauth_form": ReauthForm(formdata=None),
        "action_form": EmptyForm(formdata=None),
    }
    status = 200
    if section:
        forms[f"{section}_form"] = form
        status = form_status(form)
    partial = f"profile/_{section}.html" if section else "profile/show.html"
    return render_page_or_partial(
        "profile/show.html",
        partial,
        status,
        user=current_user,
        passkey_list=passkeys.list_passkeys(current_user),
        reauth_minutes=reauth.minutes_left(current_user.current_session),
        **forms,
    )


def section(name: str) -> Callable:
    """Re-render one section of the profile page with its submitted form."""
    return lambda form: page(name, form)


def signed_out(error: FlowError):
    """Too many wrong passwords ended this session: the browser is signed out and told why."""
    return back_to_sign_in(error.message, "error")


def submitted(form_class: type[PortalForm], again: Callable):
    """The view runs when its form is valid, and answers; a FlowError it raises is shown on
    the form, which `again(form)` renders (as it does an invalid form or a GET), unless the
    error ended the session."""

    def decorate(view):
        @wraps(view)
        def run(*args, **kwargs):
            form = form_class()
            if form.validate_on_submit():
                try:
                    return view(form, *args, **kwargs)
                except FlowError as error:
                    if error.code == "session_ended":
                        return signed_out(error)
                    form.show(error)
            return again(form)

        return run

    return decorate
