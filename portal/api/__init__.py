"""JSON API under /api/v1 (JWT, problem+json errors). CSRF does not apply: no cookies."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
