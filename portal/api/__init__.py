"""JSON API under /api/v1 (JWT, problem+json errors). CSRF does not apply: no cookies."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Views register themselves on `bp` (and in the OpenAPI registry) when imported.
from portal.api import auth, bearer, docs, errors, mfa, passkeys, sessions, users  # noqa: E402, F401

errors.init_blueprint(bp)
