"""The test databases: which URL, creating them, the app configuration tests run with, and a
fresh migrated schema. Shared by tests/conftest.py and tests/api/conftest.py."""

import os
from contextlib import contextmanager, suppress

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from portal import create_app
from portal.extensions import db

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_test"


def database_url_for(suffix: str | None = None) -> str:
    """TEST_DATABASE_URL (else the local server); with `suffix`, a sibling database named
    after it (portal_test -> portal_test_api), so runs on different URLs never share one."""
    url = make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)
    if suffix:
        url = url.set(database=f"{url.database}_{suffix}")
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
                with suppress(ProgrammingError):  # another run created it a moment ago
                    conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {parsed.render_as_string(hide_password=True)}: "
            f"{exc.orig}. Start it, or set TEST_DATABASE_URL to a PostgreSQL URL.",
            returncode=3,
        )
    finally:
        admin.dispose()


def app_config_for(database_url: str, tmp_path, **overrides) -> dict:
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
    app = create_app(app_config_for(url, tmp_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def add_sessions(user, count: int, *, kind="web") -> None:
    """`count` more active sessions of `user`, one a minute apart (older than any sign-in)."""
    db.session.execute(
        text(
            "INSERT INTO sessions (id, user_id, kind, user_agent, device_label, ip_address, "
            "created_at, last_seen_at, expires_at, reauth_failures) "
            "SELECT gen_random_uuid(), :user, :kind, '', 'Old device ' || n, '198.51.100.1', "
            "now() - interval '1 hour' - n * interval '1 minute', now(), "
            "now() + interval '2 days', 0 FROM generate_series(1, :count) AS n"
        ),
        {"user": user.id, "kind": kind, "count": count},
    )
    db.session.commit()


def add_users(count: int, prefix: str = "user") -> None:
    """`count` verified accounts named prefix1, prefix2, ... (prefix1@example.com), for tables
    of a realistic size."""
    db.session.execute(
        text(
            "INSERT INTO users (id, email, username, password_hash, is_verified, is_admin, "
            "is_active, created_at, updated_at) SELECT gen_random_uuid(), "
            ":prefix || n || '@example.com', :prefix || n, 'x', true, false, true, now(), now() "
            "FROM generate_series(1, :count) AS n"
        ),
        {"prefix": prefix, "count": count},
    )


@contextmanager
def sent_statements(matching, *, with_parameters: bool = True):
    """The (statement, parameters) pairs the app sends while the block runs, those for which
    `matching(statement)` is true (the statements alone with `with_parameters=False`)."""
    captured: list = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if matching(statement):
            captured.append((statement, parameters) if with_parameters else statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(statement: str, parameters) -> str:
    """PostgreSQL's plan for a statement the app sent, inside the test's transaction."""
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cur.fetchall())
