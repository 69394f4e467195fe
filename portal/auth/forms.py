"""Forms of the entrance pages (rules live in the flows)."""

from wtforms import EmailField, HiddenField, PasswordField, StringField

from portal.forms import PortalForm


class SignUpForm(PortalForm):
    email = EmailField("Email")
    username = StringField("Username")
    password = PasswordField("Password")


class VerifyForm(PortalForm):
    code = StringField(
        "6-digit code",
        render_kw={"class": "code", "inputmode": "numeric", "maxlength": 6, "pattern": "[0-9]*"},
    )


class ResendForm(PortalForm):
    """Only a CSRF token: the code goes to this browser's sign-up."""


class EmptyForm(PortalForm):
    """Only a CSRF token: for buttons that change state."""


class SignInForm(PortalForm):
    login = StringField("Email or username")
    password = PasswordField("Password")
    next = HiddenField()


class ForgotPasswordForm(PortalForm):
    email = EmailField("Email")


class ResetPasswordForm(PortalForm):
    password = PasswordField("New password")


class SecondStepForm(PortalForm):
    code = StringField(
        "6-digit code from your authenticator app",
        render_kw={
            "class": "code",
            "inputmode": "numeric",
            "maxlength": 6,
            "pattern": "[0-9]*",
            "autocomplete": "one-time-code",
        },
    )


class RecoveryStepForm(PortalForm):
    recovery_code = StringField(
        "Recovery code", render_kw={"autocomplete": "off", "spellcheck": "false"}
    )
