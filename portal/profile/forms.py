"""Forms of the profile page (rules live in the flows)."""

from wtforms import EmailField, PasswordField, StringField

from portal.forms import PortalForm, six_digit_code


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
    code = six_digit_code("Code sent to the new address")


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
    code = six_digit_code("6-digit code from the app", one_time_code=True)


class PasskeyNameForm(PortalForm):
    name = StringField("Name", render_kw={"maxlength": 64})
