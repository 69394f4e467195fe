"""Entrance pages: sign up, confirm the email, sign in and out, reset a password."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from portal.auth import views  # noqa: E402, F401
