"""Prometheus metrics at `GET /metrics` (README "Operations"), guarded by METRICS_TOKEN.

Under gunicorn every worker is its own process: with PROMETHEUS_MULTIPROC_DIR set (before
the processes start), prometheus_client keeps each process's values in files there and a
scrape, whichever worker answers it, adds them all up. Without it (development, tests) the
values live in this process.

What is counted, and where:
- requests, by method, URL rule (never the path: paths carry tokens) and status, in one
  after_request hook (health checks, /metrics and static files are left out);
- account activity, from the security events (`flows/events.py` calls `count_event`);
- the outbox, from `portal/outbox.py` (`queued`, `processed`);
- the queue's age, by one query at scrape time only.
Business counters count on commit: a change that is rolled back counts nothing.
"""

import hmac
import logging
import os
import threading
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, has_app_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _MULTIPROC_DIR:  # prometheus_client writes there from the first metric on
    os.makedirs(_MULTIPROC_DIR, exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Histogram  # noqa: E402
from prometheus_client.exposition import choose_encoder  # noqa: E402
from prometheus_client.metrics_core import GaugeMetricFamily  # noqa: E402

log = logging.getLogger(__name__)

# This process's metrics (never prometheus_client's global REGISTRY: a scrape in
# multiprocess mode reads the files instead, and tests build many apps in one process).
REGISTRY = CollectorRegistry()

REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by method, route (URL rule) and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route (URL rule) and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
SIGN_INS = Counter(
    "portal_sign_ins",
    "Sign-ins completed (ok) and refused (failed: wrong password or unknown login, wrong "
    "second step, refused passkey).",
    ["result"],
    registry=REGISTRY,
)
SIGN_UPS = Counter("portal_sign_ups", "Accounts created (sign-ups confirmed).", registry=REGISTRY)
CODES_SENT = Counter(
    "portal_codes_sent",
    "Emails carrying a 6-digit code queued, by kind (verify_email, email_change).",
    ["kind"],
    registry=REGISTRY,
)
BUDGETS_TRIPPED = Counter(
    "portal_guessing_budgets_tripped",
    "Guessing budgets tripped (10 failures in 15 minutes, or 50 in a day), by whose: an "
    "account's, a known device's, or a login that matches no account.",
    ["budget"],
    registry=REGISTRY,
)
REFRESH_REUSE = Counter(
    "portal_refresh_token_reuse",
    "Old refresh tokens presented again (the session was ended).",
    registry=REGISTRY,
)
ADMIN_ENDED = Counter(
    "portal_sessions_ended_by_admins",
    "Sessions ended by administrators (one, all of an account's, or by disabling it).",
    registry=REGISTRY,
)
EMAILS_QUEUED = Counter(
    "portal_emails_queued",
    "Outbox rows queued, by kind (emails; worker jobs as job:NAME).",
    ["kind"],
    registry=REGISTRY,
)
EMAILS_PROCESSED = Counter(
    "portal_emails_processed",
    "Outbox rows done with, by kind and status (sent, failed, dropped).",
    ["kind", "status"],
    registry=REGISTRY,
)

CODE_KINDS = ("verify_email", "email_change")
_FAILED_SIGN_INS = (
    "sign_in_failed",
    "second_step_failed",
    "passkey_sign_in_failed",
    "passkey_counter_refused",
)
_EVENTS = {
    "signed_in": SIGN_INS.labels(result="ok"),
    **{kind: SIGN_INS.labels(result="failed") for kind in _FAILED_SIGN_INS},
    "signed_up": SIGN_UPS,
    "refresh_token_reused": REFRESH_REUSE,
}
# Events of admins (`actor`) ending sessions, and the data key that says how many.
_ADMIN_ENDINGS = {
    "session_ended": None,  # one
    "all_sessions_ended": "count",
    "account_disabled": "sessions_ended",
}
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_PENDING = "portal_metrics"


# -- counting ---------------------------------------------------------------------------------


def _on_commit(metric, amount: float = 1) -> None:
    """Count `amount` on `metric` when the current transaction commits."""
    from portal.extensions import db

    db.session.info.setdefault(_PENDING, []).append((metric, amount))


@event.listens_for(Session, "after_commit")
def _count_committed(session) -> None:
    if session.in_nested_transaction():
        return
    for metric, amount in session.info.pop(_PENDING, ()):
        metric.inc(amount)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def count_event(kind: str, actor=None, data: dict | None = None) -> None:
    """A security event was recorded (flows/events.py): count what operators watch."""
    if (metric := _EVENTS.get(kind)) is not None:
        _on_commit(metric)
    elif actor is not None and kind in _ADMIN_ENDINGS:
        key = _ADMIN_ENDINGS[kind]
        try:
            amount = 1 if key is None else int((data or {}).get(key) or 0)
        except (TypeError, ValueError):
            return
        if amount:
            _on_commit(ADMIN_ENDED, amount)


def budget_tripped(key: str) -> None:
    """A guessing budget tripped (portal/flows/budget.py); `key` is "user:...", "device:..."
    or "login:..."."""
    _on_commit(BUDGETS_TRIPPED.labels(budget=key.partition(":")[0]))


def queued(kind: str) -> None:
    """An outbox row was added (portal/outbox.py)."""
    _on_commit(EMAILS_QUEUED.labels(kind=kind))
    if kind in CODE_KINDS:
        _on_commit(CODES_SENT.labels(kind=kind))


def processed(kind: str, status: str) -> None:
    """An outbox row was sent, failed or dropped (portal/outbox.py)."""
    _on_commit(EMAILS_PROCESSED.labels(kind=kind, status=status))


def _observe_request(response):
    from portal.logs import quiet, route

    started = g.get("request_started")
    if started is None or quiet() or request.endpoint == "static":
        return response
    method = request.method if request.method in _METHODS else "other"
    labels = (method, route(), response.status_code)
    series = _request_series.get(labels)
    if series is None:
        values = (method, labels[1], str(labels[2]))
        series = _request_series[labels] = (REQUESTS.labels(*values), LATENCY.labels(*values))
    series[0].inc()
    series[1].observe(time.perf_counter() - started)
    return response


# Each (method, route, status) series of the two request metrics, looked up once: `labels()`
# checks and converts its values and takes a lock on every call, on every request. The keys
# are bounded as the labels are (URL rules, not paths).
_request_series: dict[tuple, tuple] = {}


# -- scraping ---------------------------------------------------------------------------------


class _QueueAge:
    """The oldest due outbox message's age, read at scrape time (one indexed query)."""

    NAME = "portal_outbox_oldest_pending_seconds"
    HELP = "Seconds the oldest due outbox message has waited (0: none waiting)."

    def describe(self):
        return [GaugeMetricFamily(self.NAME, self.HELP)]

    def collect(self):
        if not has_app_context():
            return
        from portal import outbox
        from portal.extensions import db

        try:
            age = outbox.pending_age()
        except Exception:  # a scrape must answer even when the database does not
            db.session.rollback()
            log.warning("metrics_queue_age_unavailable")
            return
        seconds = 0.0 if age is None else age.total_seconds()
        yield GaugeMetricFamily(self.NAME, self.HELP, value=seconds)


_QUEUE_AGE = _QueueAge()
REGISTRY.register(_QUEUE_AGE)


def render(accept: str = "") -> tuple[bytes, str]:
    """(body, content type) of a scrape: every process's values in multiprocess mode."""
    if _MULTIPROC_DIR:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=_MULTIPROC_DIR)
        registry.register(_QUEUE_AGE)
    else:
        registry = REGISTRY
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def authorized(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """Prometheus scrapes each app process here (never through nginx, which answers 404)."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        abort(404)  # off: the same answer as any unknown address
    if not authorized(request.headers.get("Authorization", ""), token):
        return Response(
            "A valid METRICS_TOKEN bearer token is needed.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    body, content_type = render(request.headers.get("Accept", ""))
    return Response(body, 200, {"Content-Type": content_type})


def init_app(app: Flask) -> None:
    from portal.extensions import limiter

    limiter.exempt(scrape)
    app.register_blueprint(bp)
    app.after_request(_observe_request)


# -- the mail worker's own endpoint ---------------------------------------------------------


def serve_worker(app: Flask) -> threading.Thread | None:
    """`flask mail worker` counts emails sent, failed and dropped in its own process, which
    no app process serves: with METRICS_TOKEN and METRICS_WORKER_PORT set, it answers
    `GET /metrics` (same token) on that port from a background thread."""
    token, port = app.config["METRICS_TOKEN"], app.config["METRICS_WORKER_PORT"]
    if not token or not port:
        return None
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # scrapes are not logged
            pass

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found.\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"A valid METRICS_TOKEN bearer token is needed.\n"]
        with app.app_context():
            body, content_type = render(environ.get("HTTP_ACCEPT", ""))
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    host, _, number = str(port).rpartition(":")
    try:
        server = make_server(host or "0.0.0.0", int(number), wsgi, handler_class=Quiet)  # noqa: S104
    except (OSError, ValueError):  # delivering email matters more than counting it
        log.exception("worker_metrics_not_served", extra={"port": str(port)})
        return None
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.server = server
    thread.start()
    log.info("worker_metrics_serving", extra={"port": server.server_port})
    return thread
