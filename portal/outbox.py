"""The email outbox (README "Operations"): every email, and every job that decides which
email to send, is a row written in the same transaction as the change that causes it. No
email for a rolled-back change, no change without its email.

Why a table of our own read with `FOR UPDATE SKIP LOCKED` rather than a task-queue library:
the row must be part of Flask-SQLAlchemy's transaction (a `db.session.add` before the flow's
commit), which PostgreSQL queues built on their own connections (procrastinate, pgqueuer)
don't join; and the rules (merging notices, dropping expired secrets, the 24-hour window of
Resend's idempotency keys) would need writing anyway.

- `flask --app portal mail worker` delivers (any number at once: SKIP LOCKED hands each row
  to one of them; the Resend idempotency key of the row makes a retry after a crash safe).
- In development and tests (`MAIL_DELIVERY=inline`) the request's own process delivers right
  after the response has gone out, so nothing needs a worker.
- The rendered message is encrypted at rest (it may carry a code or a link) and erased once
  delivered; a message whose code or link expired first is dropped, never sent late.
- Failures retry with exponential backoff and jitter, for 23 hours at most (inside Resend's
  24-hour idempotency window), then the row is marked failed.
- Security notices to one address within 10 minutes are merged into one email.
"""

import json
import logging
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from html import escape

from flask import after_this_request, current_app, g, has_request_context
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer

from portal import clock, crypto, metrics
from portal.email import SUBJECTS, EmailError, build_message, deliver
from portal.extensions import db
from portal.models import OutboxMessage
from portal.origin import Origin
from portal.pagination import keyset_page_or_first

log = logging.getLogger(__name__)

MERGE_WINDOW = timedelta(minutes=10)
RETRY_WINDOW = timedelta(hours=23)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
DIGEST = "security_digest"
DIGEST_ITEMS = 20  # notices shown in full in one digest; more are counted
UNREADABLE = "cannot decrypt (MFA_KEYS lost the key?)"
STATUSES = ("pending", "sent", "failed", "dropped")
PAGE_SIZE = 50

JOBS: dict[str, Callable] = {}


def job(name: str):
    """Register `fn(origin, **payload)` as the job `name` (run by the worker)."""

    def register(fn):
        JOBS[name] = fn
        return fn

    return register


def _seal(data: dict) -> str:
    return crypto.encrypt(json.dumps(data))


def _open(payload: str) -> dict:
    return json.loads(crypto.decrypt(payload))


def enqueue_email(to: str, kind: str, *, expires_at=None, **context) -> OutboxMessage:
    """Render now, deliver later. Caller commits."""
    row = OutboxMessage(
        kind=kind,
        recipient=to,
        payload=_seal(build_message(to, kind, context)),
        expires_at=expires_at,
        available_at=clock.utcnow(),
        idempotency_key=uuid.uuid4().hex,
    )
    db.session.add(row)
    metrics.queued(kind)
    _deliver_inline_later()
    return row


# The latest notice to an address, locked: built once (every new-device sign-in runs it).
_LAST_NOTICE = (
    select(OutboxMessage)
    .where(
        OutboxMessage.merge_key == bindparam("merge_key"),
        OutboxMessage.created_at > bindparam("since"),
    )
    .order_by(OutboxMessage.available_at.desc())
    .limit(1)
    .with_for_update()
    # A full digest's payload is tens of kilobytes: read only when a notice goes into it.
    .options(defer(OutboxMessage.payload))
)


def enqueue_notice(to: str, kind: str, merge_key: str, **context) -> OutboxMessage:
    """A security notice: the first in 10 minutes goes at once; later ones wait until 10
    minutes after it and go together, as one email. Caller commits."""
    now = clock.utcnow()
    last = db.session.scalar(
        _LAST_NOTICE, {"merge_key": merge_key, "since": now - 2 * MERGE_WINDOW}
    )
    if last is None or last.available_at <= now - MERGE_WINDOW:
        row = enqueue_email(to, kind, **context)
        row.merge_key = merge_key
        return row
    if last.kind == DIGEST and last.status == "pending":
        if last.digest_more is not None:  # full: counted, the payload is left as it is
            last.digest_more = {**last.digest_more, kind: last.digest_more.get(kind, 0) + 1}
            return last
        if last.payload:
            _add_to_digest(last, build_message(to, kind, context), kind)
            return last
    row = OutboxMessage(
        kind=DIGEST,
        recipient=to,
        payload=_seal({"items": [build_message(to, kind, context)]}),
        available_at=last.available_at + MERGE_WINDOW,
        merge_key=merge_key,
        idempotency_key=uuid.uuid4().hex,
    )
    db.session.add(row)
    metrics.queued(DIGEST)
    return row


def _add_to_digest(digest: OutboxMessage, message: dict, kind: str) -> None:
    """One more notice in full; the one that fills the digest starts its counts."""
    data = _open(digest.payload)
    more = data.pop("more", None)  # counted inside the payload by an earlier version
    if more is None and len(data["items"]) < DIGEST_ITEMS:
        data["items"].append(message)
        digest.payload = _seal(data)
        if len(data["items"]) == DIGEST_ITEMS:
            digest.digest_more = {}
        return
    more = more or {}
    more[kind] = more.get(kind, 0) + 1
    digest.payload = _seal(data)
    digest.digest_more = more


def enqueue_job(name: str, origin: Origin | None = None, **payload) -> OutboxMessage:
    """Work for the worker (which decides what to email). Caller commits."""
    if name not in JOBS:
        raise KeyError(f"no job named {name}")
    origin = origin or Origin()
    # Stored as "client" (its name when jobs were first queued): rows already in the outbox
    # must still run.
    data = {"client": {"ip_address": origin.ip_address, "user_agent": origin.user_agent}}
    row = OutboxMessage(
        kind=f"job:{name}",
        payload=_seal({**data, "payload": payload}),
        available_at=clock.utcnow(),
        idempotency_key=uuid.uuid4().hex,
    )
    db.session.add(row)
    metrics.queued(row.kind)
    _deliver_inline_later()
    return row


def _deliver_inline_later() -> None:
    """Inline delivery: once this request's response is out, deliver what is due."""
    if current_app.config["MAIL_DELIVERY"] != "inline" or not has_request_context():
        return
    if g.get("outbox_scheduled"):
        return
    g.outbox_scheduled = True
    app = current_app._get_current_object()

    @after_this_request
    def _schedule(response):
        def run():
            with app.app_context():
                deliver_due()

        response.call_on_close(run)
        return response


class CloseEveryResponse:
    """Inline delivery runs when the response is closed. Servers close it after sending, but
    werkzeug's development server skips close() when the client drops the connection early
    (a browser following a redirect may), and the email would wait for the next one. With
    inline delivery (development, tests) the response is built, closed, then handed over."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        body = self.wsgi_app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()


def deliver_due(limit: int = 100) -> int:
    """Deliver up to `limit` due rows, one transaction each; returns how many were handled."""
    handled = 0
    while handled < limit:
        now = clock.utcnow()
        row = db.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now)
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            break
        _handle(row, now)
        db.session.commit()
        handled += 1
    return handled


def _handle(row: OutboxMessage, now) -> None:
    if row.payload is None:  # nothing left to send (should not happen): close it
        row.status = "failed"
        return
    try:
        data = _open(row.payload)
    except crypto.InvalidToken:
        _finish(row, "failed", error=UNREADABLE)
        return
    if row.kind.startswith("job:"):
        _run_job(row, data)
        return
    if row.expires_at is not None and row.expires_at <= now:
        _finish(row, "dropped", error="expired before it could be sent")
        log.info("email_dropped", extra={"kind": row.kind})
        return
    message = (
        _digest(row.recipient, data["items"], row.digest_more or data.get("more") or {})
        if row.kind == DIGEST
        else data
    )
    try:
        deliver(message, idempotency_key=row.idempotency_key)
    except EmailError as exc:
        _retry(row, now, str(exc))
        return
    _finish(row, "sent")
    row.sent_at = now


def _run_job(row: OutboxMessage, data: dict) -> None:
    name = row.kind.removeprefix("job:")
    try:
        JOBS[name](Origin(**data["client"]), **data["payload"])
    except Exception as exc:  # a broken job must not stop the queue
        db.session.rollback()
        log.exception("job_failed", extra={"job": name})
        row = db.session.get(OutboxMessage, row.id, with_for_update=True)
        _retry(row, clock.utcnow(), type(exc).__name__)
        return
    _finish(row, "sent")


def _finish(row: OutboxMessage, status: str, *, error: str | None = None) -> None:
    row.status = status
    metrics.processed(row.kind, status)
    if status != "failed" or error == UNREADABLE:
        row.payload = None  # secrets go once no one can need them (a failed row may be retried)
    if error:
        row.last_error = error[:200]


def _retry(row: OutboxMessage, now, error: str) -> None:
    row.attempts += 1
    row.last_error = error[:200]
    delay = min(FIRST_RETRY * 2 ** (row.attempts - 1), LONGEST_RETRY)
    delay *= random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret
    if now + delay - row.created_at > RETRY_WINDOW:
        _finish(row, "failed", error=error)
        log.warning("email_gave_up", extra={"kind": row.kind, "attempts": row.attempts})
        return
    row.available_at = now + delay


def _digest(to: str, items: list[dict], more: dict[str, int]) -> dict:
    """Several notices as one email: each keeps its own words, under one subject; past
    DIGEST_ITEMS they are counted by kind."""
    separator = "\n\n" + "-" * 40 + "\n\n"
    total = len(items) + sum(more.values())
    text = separator.join(f"{m['subject']}\n\n{m['text']}" for m in items)
    html = "<hr>".join(m["html"] for m in items)
    if more:
        counted = ", ".join(f"{count} more “{SUBJECTS.get(k, k)}”" for k, count in more.items())
        text += f"{separator}And {counted}."
        html += f"<hr><p>And {escape(counted)}.</p>"
    return {
        "to": [to],
        "subject": f"{total} security notices about your Portal account",
        "text": text,
        "html": html,
        "kind": DIGEST,
        "kinds": [m["kind"] for m in items] + [k for k, n in more.items() for _ in range(n)],
    }


def pending_age() -> timedelta | None:
    """How long the oldest due message has waited (None when nothing is waiting)."""
    oldest = db.session.scalar(
        select(OutboxMessage.available_at)
        .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= clock.utcnow())
        .order_by(OutboxMessage.available_at)
        .limit(1)
    )
    return None if oldest is None else clock.utcnow() - oldest


def worker_loop(*, once: bool = False, interval: float = 1.0, stop=lambda: False) -> int:
    """Deliver until `stop()` (SIGTERM) says so, resting `interval` seconds when idle."""
    import time

    total = 0
    if not once:  # its counts of sent, failed and dropped emails, on METRICS_WORKER_PORT
        metrics.serve_worker(current_app._get_current_object())
    while not stop():
        handled = deliver_due()
        total += handled
        if once:
            break
        if not handled:
            time.sleep(interval)
    return total


def listing(
    status: str | None = None,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
):
    """Admins' view of the queue, newest first: kind, recipient, status, error, age; never
    the content (it stays encrypted). Keyset pagination on id; a mangled cursor shows the
    first page."""
    query = select(OutboxMessage)
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    keys = [OutboxMessage.id.desc()]
    return keyset_page_or_first(query, keys, limit, after=after, before=before)


def retry(admin, message_id: int, origin: Origin) -> OutboxMessage:
    """An admin sends a failed message again: a fresh 23-hour window and idempotency key
    (the old key's 24 hours at Resend may be over). Recorded."""
    from portal.flows import FlowError, events

    row = db.session.get(OutboxMessage, message_id, with_for_update=True)
    if row is None or row.status != "failed" or row.payload is None:
        raise FlowError(
            "not_found", "Only a failed message that still has its content can be sent again."
        )
    row.status = "pending"
    row.attempts = 0
    row.created_at = row.available_at = clock.utcnow()
    row.idempotency_key = uuid.uuid4().hex
    events.record(
        "email_retried", None, origin=origin, actor=admin, kind_of_email=row.kind, message=row.id
    )
    db.session.commit()
    _deliver_inline_later()
    return row
