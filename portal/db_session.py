"""The ORM session class: pages and API calls that only read run outside a transaction.

A request's statements normally run in a transaction: psycopg sends BEGIN before the first
and SQLAlchemy a ROLLBACK (or COMMIT) after the last, two more round trips to PostgreSQL
than there are statements. The hot read paths (the account, the sessions list, the admin
search) make one or two statements, so those round trips were a third of their database
work. The GET endpoints below read only, so their statements run in autocommit mode: no
BEGIN, no ROLLBACK, each statement sees the database as of its own start. Their one write,
the session's activity stamp (at most once a minute, flows/sessions.py `touch`), is a single
UPDATE and atomic on its own.

An endpoint belongs here only when every statement it can make, in every branch, is a
SELECT or a single-statement write; tests/test_read_only_requests.py checks the names and
that they make no BEGIN.
"""

from weakref import WeakKeyDictionary

from flask import has_request_context, request
from flask_sqlalchemy.session import Session

READ_ONLY_ENDPOINTS = frozenset(
    {
        "api.me",
        "api.list_sessions",
        "api.get_session",
        "api.list_passkeys",
        "sessions.index",
        "activity.index",
        "profile.show",
        "admin.users",
        "admin.user",
        "admin.events",
        "admin.outbox_page",
        "health.ready",
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_autocommit_engines: WeakKeyDictionary = WeakKeyDictionary()


def reads_only() -> bool:
    """Is the request in hand a read-only one (see above)?"""
    return (
        has_request_context()
        and request.method in _SAFE_METHODS
        and request.endpoint in READ_ONLY_ENDPOINTS
    )


class PortalSession(Session):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if bind is not None or not reads_only():
            return engine
        autocommit = _autocommit_engines.get(engine)
        if autocommit is None:
            # Same pool and events; its connections run each statement on its own.
            autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
            _autocommit_engines[engine] = autocommit
        return autocommit
