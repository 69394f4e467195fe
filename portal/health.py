"""Liveness and readiness for load balancers and orchestrators."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from portal import clock
from portal.extensions import db, limiter

bp = Blueprint("health", __name__)


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
