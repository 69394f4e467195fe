"""Profile pages: username, email, password, account deletion."""

from flask import Blueprint

bp = Blueprint("profile", __name__)

from portal.profile import second_factor, views  # noqa: E402, F401
