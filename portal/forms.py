"""Shared form plumbing: flows own the rules, forms carry CSRF and show the errors."""

from flask import g
from flask_wtf import FlaskForm
from wtforms import StringField

from portal.flows import FlowError


class PortalForm(FlaskForm):
    """A form whose fields are checked by the flows; it only keeps their messages."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_errors: list[str] = []
        if "csrf_token" in self._fields:
            # Several forms share a page (profile, sessions): no id, so ids stay unique.
            self.csrf_token.id = False

    def show(self, error: FlowError) -> None:
        """Put a flow's messages next to the fields they are about (a spent guessing budget
        also makes the answer a 429 with Retry-After)."""
        if error.code == "rate_limited":
            g.retry_after = int(error.extra.get("retry_after", 60))
        for name, messages in error.errors.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = list(field.errors) + list(messages)
            else:
                self.form_errors.extend(messages)
        if not error.errors:
            self.form_errors.append(error.message)

    def value(self, name: str) -> str:
        """A field's submitted text, '' when missing (never None)."""
        return self._fields[name].data or ""


class EmptyForm(PortalForm):
    """Only a CSRF token: for buttons that change state."""


def six_digit_code(label: str, *, one_time_code: bool = False) -> StringField:
    """A field for a 6-digit code (emailed, or from an authenticator app: `one_time_code`
    lets the browser fill it in)."""
    render_kw = {"class": "code", "inputmode": "numeric", "maxlength": 6, "pattern": "[0-9]*"}
    if one_time_code:
        render_kw["autocomplete"] = "one-time-code"
    return StringField(label, render_kw=render_kw)
