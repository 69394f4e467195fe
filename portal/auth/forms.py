"""Forms of the entrance pages (rules live in the flows)."""

from wtforms import EmailField, HiddenField, PasswordField, StringField

from portal.forms import PortalForm, six_digit_code


class SignUpForm(PortalForm):
    email = EmailField("Email")
    username = StringField("Username")
    password = PasswordField("Password")


class VerifyForm(PortalForm):
    code = six_digit_code("6-digit code")


class ResendForm(PortalForm):
    """Only a CSRF token: the code goes to this browser's sign-up."""


class SignInForm(PortalForm):
    login = StringField("Email or username")
    password = PasswordField("Password")
    next = HiddenField()


class ForgotPasswordForm(PortalForm):
    email = EmailField("Email")


class ResetPasswordForm(PortalForm):
    password = PasswordField("New password")


class SecondStepForm(PortalForm):
    code = six_digit_code("6-digit code from your authenticator app", one_time_code=True)


class RecoveryStepForm(PortalForm):
    recovery_code = StringField(
        "Recovery code", render_kw={"autocomplete": "off", "spellcheck": "false"}
    )
