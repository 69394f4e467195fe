"""Profile pages: username, email, password, account deletion."""

from flask import Blueprint

bp = Blueprint("profile", __name__)

from portal.profile import views  # noqa: E402, F401
