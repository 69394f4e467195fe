"""PostgreSQL connections that outlive a database restart, without a round trip per request,
and that speak UTC.

`pool_pre_ping` would send a `SELECT 1` before every checkout. Instead a pooled connection is
looked at for free when it is checked out: an idle connection has nothing to read on its socket
unless the server closed it (a restart, a failover, an idle timeout) or said something
unasked; either way it is thrown away and a fresh one opened (SQLAlchemy tries three times).
A connection that dies while a statement runs fails that statement: SQLAlchemy then marks
every older connection of the pool stale, and the request answers 503 (portal/errors.py).
One that dies after the answer was made, before the request's session is closed, costs
nothing: the answer stands and the connection is thrown away.

Every new connection sets its time zone to UTC: times come back in UTC whatever the server's
default (Debian's is "Etc/UTC", another server's may be "Europe/Berlin"), so the API writes
them with "Z" everywhere; and psycopg reads a timestamptz in "UTC" by its fast path (a third
less per value than "Etc/UTC", which it converts through zoneinfo: a list of 100 sessions
reads 300).

A statement run with the execution option `binary_results=True` (the sessions list: up to
101 rows a request) gets its rows in PostgreSQL's binary format: the server writes no text
for each time and psycopg parses none (the same Python values).
"""

import logging
import select

from flask import Flask
from psycopg.pq import Format
from sqlalchemy import event, exc

from portal.errors import database_unavailable
from portal.extensions import db

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return  # SQLite (make run): a file, nothing to lose
    with app.app_context():
        event.listen(db.engine, "connect", _speak_utc)
        event.listen(db.engine, "checkout", _drop_if_closed_by_server)
        event.listen(db.engine, "before_cursor_execute", _binary_results_when_asked)
    # Runs before Flask-SQLAlchemy's own teardown (the last registered runs first).
    app.teardown_appcontext(_close_session)


def _close_session(_error) -> None:
    """End the request's session; when its connection is gone, forget the session rather
    than fail a request whose answer is already made."""
    try:
        db.session.remove()
    except exc.DBAPIError as error:
        if not database_unavailable(error):
            raise
        log.warning("database_lost_after_answer", extra={"error": type(error.orig).__name__})
        db.session.registry().invalidate()  # no ROLLBACK on a dead connection
        db.session.registry.clear()


def _speak_utc(dbapi_connection, _record) -> None:
    # Outside any transaction, so that nothing is left open and no rollback undoes it.
    autocommit, dbapi_connection.autocommit = dbapi_connection.autocommit, True
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit


def _binary_results_when_asked(_conn, cursor, _sql, _params, context, _many) -> None:
    if context.execution_options.get("binary_results"):
        cursor.format = Format.BINARY  # a cursor per execution: nothing else is affected


def _drop_if_closed_by_server(dbapi_connection, _record, _proxy) -> None:
    if dbapi_connection.closed or dbapi_connection.broken:
        raise exc.DisconnectionError("connection closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):  # no wait: data or end-of-file on an idle connection
        raise exc.DisconnectionError("the server closed this connection")
