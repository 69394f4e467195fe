"""The Sessions page: every signed-in device, and ending them."""

from flask import Blueprint

bp = Blueprint("sessions", __name__)

from portal.sessions import views  # noqa: E402, F401
