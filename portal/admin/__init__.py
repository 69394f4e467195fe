"""Admin pages: find users, end their sessions, disable, delete."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
