"""The Activity page: a person's own security events, in plain words."""

from flask import Blueprint

bp = Blueprint("activity", __name__)

from portal.activity import views  # noqa: E402, F401
