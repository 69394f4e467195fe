"""Liveness and readiness for load balancers and orchestrators."""

import json
import os

from flask import Blueprint, jsonify
from sqlalchemy import text

from portal import clock
from portal.extensions import db, limiter

bp = Blueprint("health", __name__)


class LivenessShortcut:
    """`GET /health` answered before Flask: liveness means the process answers, and load
    balancers ask many times a second, so it skips every hook a page needs (sessions, CSRF,
    limits, logs, metrics). It keeps the answer of the view below, and the request id."""

    def __init__(self, wsgi_app, version: str):
        self.wsgi_app = wsgi_app
        self.version = version

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/health" or environ.get("REQUEST_METHOD") not in (
            "GET",
            "HEAD",
        ):
            return self.wsgi_app(environ, start_response)
        from portal.logs import _REQUEST_ID_RE

        body = json.dumps(
            {"status": "ok", "version": self.version, "time": clock.utcnow().isoformat()}
        ).encode()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if given and _REQUEST_ID_RE.match(given) else os.urandom(16).hex()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                ("X-Request-ID", request_id),
            ],
        )
        return [body] if environ["REQUEST_METHOD"] == "GET" else []


@bp.get("/health")
@limiter.exempt
def live():
    """The process answers."""
    from portal import __version__

    return {"status": "ok", "version": __version__, "time": clock.utcnow().isoformat()}


@bp.get("/health/db")
@limiter.exempt
def ready():
    """The database answers a SELECT 1."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        _forget_session()
        return jsonify(status="unavailable", database="unreachable"), 503
    return {"status": "ok", "database": "ok"}


@bp.get("/health/queue")
@limiter.exempt
def queue():
    """How long the oldest due email has waited (never part of readiness: a Resend outage
    must not take replicas out)."""
    from portal import outbox

    try:
        age = outbox.pending_age()
    except Exception:
        _forget_session()
        return jsonify(status="unavailable", database="unreachable"), 503
    seconds = 0 if age is None else int(age.total_seconds())
    return {"status": "ok", "oldest_pending_seconds": seconds}


def _forget_session() -> None:
    """After a failed query: roll back if the connection still answers, else just drop it
    (a health check must answer 503 itself, never fail into the error page)."""
    try:
        db.session.rollback()
    except Exception:
        db.session.registry().invalidate()
