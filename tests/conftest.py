"""Fixtures: a real PostgreSQL database migrated once per run, each test in a transaction
that is rolled back at the end (the app's own commits become savepoints)."""

import os
import uuid

import pytest
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

# Helpers live in their own module: test files import them from there, since the name
# `conftest` is ambiguous once tests/api and tests/admin have their own.
from web_helpers import (  # noqa: F401 - re-exported for tests that import from conftest
    CSRF_RE,
    PASSWORD,
    STRONG_PASSWORD,
    Browser,
    ClosingClient,
    csrf_token,
    last_code,
    last_link,
    mail_files,
    without_csrf,
)

from portal import clock, create_app
from portal.email import email_sent
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_test"


def test_database_url(name: str | None = None) -> str:
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
    if name:
        url = url.set(database=name)
    return url.render_as_string(hide_password=False)


def ensure_database(url: str) -> None:
    """Create the database if missing; stop the run with a clear message if unreachable."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {parsed.render_as_string(hide_password=True)}: "
            f"{exc.orig}. Start it, or set TEST_DATABASE_URL to a PostgreSQL URL.",
            returncode=3,
        )
    finally:
        admin.dispose()


def test_config(database_url: str, tmp_path, **overrides) -> dict:
    config = {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "PORTAL_BASE_URL": "http://portal.test",
        # Cheap argon2 in tests only; production parameters are tested on their own.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "ARGON2_PARALLELISM": 1,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


def migrate_fresh(url: str, tmp_path) -> None:
    """Empty the schema and apply every migration (never create_all)."""
    ensure_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app(test_config(url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = test_database_url()
    migrate_fresh(url, tmp_path_factory.mktemp("migrate"))
    return url


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy's session picks engines by bind key; in tests it must use the one
    connection that holds the test's transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def app_config():
    """Override to change the app's configuration in one test module."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = create_app(test_config(database_url, tmp_path, **app_config))
    app.test_client_class = ClosingClient
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "class_": _ConnectionSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield app
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()
            db.engine.dispose()
            clock.reset()


@pytest.fixture
def make_app(database_url, tmp_path, app):
    """Another app on the test's database transaction, e.g. in production mode:
    `make_app(PORTAL_ENV="production")`; `drop=[...]` leaves test settings out (defaults)."""

    def make(drop=(), **overrides):
        config = test_config(database_url, tmp_path, **overrides)
        for name in drop:
            del config[name]
        other = create_app(config)
        other.test_client_class = ClosingClient
        return other

    return make


@pytest.fixture
def outbox(app):
    """Every email sent during the test, as the dicts the `file` backend writes."""
    messages: list[dict] = []

    def collect(sender, message, **extra):
        messages.append(message)

    email_sent.connect(collect)
    yield messages
    email_sent.disconnect(collect)


@pytest.fixture
def make_user(app):
    """Create an account directly in the database (verified unless told otherwise)."""

    def make(
        email=None, username=None, password=PASSWORD, *, verified=True, admin=False, active=True
    ) -> User:
        name = username or f"user{uuid.uuid4().hex[:8]}"
        user = User(
            id=uuid.uuid4(),
            email=(email or f"{name}@example.com").lower(),
            username=name.lower(),
            password_hash=hash_password(password),
            is_verified=verified,
            is_admin=admin,
            is_active=active,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user(email="alice@example.com", username="alice")


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def auth(browser, user):
    """A browser signed in as `user` (for real: the sign-in form with a CSRF token)."""
    browser.sign_in()
    return browser


@pytest.fixture
def new_browser(app):
    """Another browser (its own cookie jar), e.g. a second device."""

    def make(
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ):
        return Browser(app.test_client(), user_agent)

    return make


@pytest.fixture
def count_queries(app):
    """Count SQL statements run while the block is active: `with count_queries() as n:`."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
