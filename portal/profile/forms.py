"""Forms of the profile page (rules live in the flows)."""

from wtforms import EmailField, PasswordField, StringField

from portal.forms import PortalForm


class UsernameForm(PortalForm):
    username = StringField("Username")


def code_field(id_: str) -> StringField:
    """The second half of re-authentication when the account has an authenticator app."""
    return StringField(
        "Code from your authenticator app (or a recovery code)",
        id=id_,
        render_kw={"inputmode": "text", "autocomplete": "one-time-code", "maxlength": 16},
    )


class EmailForm(PortalForm):
    email = EmailField("New email address")
    password = PasswordField("Your password", id="email-password")
    code = code_field("email-code")


class EmailConfirmForm(PortalForm):
    code = StringField(
        "Code sent to the new address",
        render_kw={"class": "code", "inputmode": "numeric", "maxlength": 6, "pattern": "[0-9]*"},
    )


class PasswordForm(PortalForm):
    current_password = PasswordField("Current password")
    code = code_field("password-code")
    new_password = PasswordField("New password")


class DeleteForm(PortalForm):
    password = PasswordField("Your password")
    code = code_field("delete-code")


class ReauthForm(PortalForm):
    """ "Confirm it's you" before changing two-step sign-in or passkeys."""

    password = PasswordField("Your password", id="reauth-password")
    code = code_field("reauth-code")


class TotpConfirmForm(PortalForm):
    code = StringField(
        "6-digit code from the app",
        render_kw={
            "class": "code",
            "inputmode": "numeric",
            "maxlength": 6,
            "pattern": "[0-9]*",
            "autocomplete": "one-time-code",
        },
    )


class PasskeyNameForm(PortalForm):
    name = StringField("Name", render_kw={"maxlength": 64})


class EmptyForm(PortalForm):
    """Only a CSRF token: for buttons that change state."""
