"""Fixtures for the JSON API: a client that speaks JSON and bearer tokens, alice signed in
through the API, and PyJWT's notion of "now" following portal.clock (so clock.advance()
expires tokens the way it expires codes and sessions)."""

import threading
import uuid
from contextlib import contextmanager
from datetime import datetime

import jwt.api_jwt
import pytest
from api_helpers import Api
from db_helpers import app_config_for, database_url_for, ensure_database, migrate_fresh
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from web_helpers import PASSWORD
from werkzeug.serving import make_server

from portal import clock, create_app
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return clock.utcnow().astimezone(tz) if tz else clock.utcnow().replace(tzinfo=None)


@pytest.fixture(autouse=True)
def jwt_follows_portal_clock(monkeypatch):
    monkeypatch.setattr(jwt.api_jwt, "datetime", _ClockDatetime)


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def tokens(api, user) -> dict:
    """alice, signed in through the API: {access_token, refresh_token, ..., user}."""
    return api.login()


# A served app on its own database (real commits), for true concurrency and schemathesis.

LIVE_DATABASE = "api"  # portal_test_api beside portal_test


# Other test runs (another engineer, CI on the same host) may use portal_test_api at the same
# time: an advisory lock keeps one run's migration or test from overlapping another's.
LIVE_LOCK = 740_4001


@contextmanager
def live_database_lock(url):
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LIVE_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LIVE_LOCK})
    engine.dispose()


@pytest.fixture(scope="session")
def live_database_url(tmp_path_factory) -> str:
    """<test database>_api, created if missing, emptied and migrated once per run."""
    rendered = database_url_for(LIVE_DATABASE)
    ensure_database(rendered)
    with live_database_lock(rendered):
        migrate_fresh(rendered, tmp_path_factory.mktemp("live-migrate"))
    return rendered


@pytest.fixture
def live_app(live_database_url, tmp_path):
    """An app on portal_test_api whose commits are real; every table is emptied afterwards."""
    with live_database_lock(live_database_url):
        app = create_app(app_config_for(live_database_url, tmp_path))
        try:
            yield app
        finally:
            with app.app_context():
                tables = ", ".join(
                    f'"{t.name}"' for t in db.metadata.sorted_tables if t.name != "alembic_version"
                )
                db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
                db.session.commit()
                db.session.remove()
                db.engine.dispose()
            clock.reset()


@pytest.fixture
def live_server(live_app):
    """live_app served by werkzeug in a thread (a real HTTP server, a thread per request)."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def live_user(live_app):
    """A verified account on the live database: (email, password)."""
    with live_app.app_context():
        user = User(
            id=uuid.uuid4(),
            email="live@example.com",
            username="live",
            password_hash=hash_password(PASSWORD),
            is_verified=True,
        )
        db.session.add(user)
        db.session.commit()
        db.session.remove()
    return "live@example.com", PASSWORD
