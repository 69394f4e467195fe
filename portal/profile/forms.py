"""Forms of the profile page (rules live in the flows)."""

from wtforms import EmailField, PasswordField, StringField

from portal.forms import PortalForm


class UsernameForm(PortalForm):
    username = StringField("Username")


class EmailForm(PortalForm):
    email = EmailField("New email address")
    password = PasswordField("Your password", id="email-password")


class EmailConfirmForm(PortalForm):
    code = StringField(
        "Code sent to the new address",
        render_kw={"class": "code", "inputmode": "numeric", "maxlength": 6, "pattern": "[0-9]*"},
    )


class PasswordForm(PortalForm):
    current_password = PasswordField("Current password")
    new_password = PasswordField("New password")


class DeleteForm(PortalForm):
    password = PasswordField("Your password")


class EmptyForm(PortalForm):
    """Only a CSRF token: for buttons that change state."""
