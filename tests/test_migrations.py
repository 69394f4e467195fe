"""Migration 0002: accounts nobody confirmed become pending sign-ups (a day old at most),
on PostgreSQL and SQLite alike, and their makers can still finish signing up."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from db_helpers import database_url_for, ensure_database
from flask_migrate import upgrade
from sqlalchemy import create_engine, select, text
from web_helpers import PASSWORD, Browser, ClosingClient, last_code

from portal import create_app
from portal.email import email_sent
from portal.extensions import db
from portal.models import PendingSignUp, User
from portal.passwords import hash_password


def _config(url: str, tmp_path) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "migration-test-secret-key-that-is-long-enough-01",
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 8,
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    url = database_url_for("migrate")
    ensure_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_unconfirmed_accounts_become_pending_sign_ups(empty_database, tmp_path):
    app = create_app(_config(empty_database, tmp_path))
    app.test_client_class = ClosingClient
    now = datetime.now(UTC)
    with app.app_context():
        upgrade(revision="0001")
        password_hash = hash_password(PASSWORD)
        users = [
            ("done@example.com", "done", True, now - timedelta(days=30)),
            ("fresh@example.com", "fresh", False, now - timedelta(hours=2)),
            ("stale@example.com", "stale", False, now - timedelta(days=3)),
        ]
        for email, username, verified, created in users:
            db.session.execute(
                text(
                    "INSERT INTO users (id, email, username, password_hash, is_verified, "
                    "is_admin, is_active, created_at, updated_at) VALUES (:id, :email, "
                    ":username, :hash, :verified, false, true, :created, :created)"
                ),
                {
                    "id": uuid.uuid4().hex if "sqlite" in empty_database else uuid.uuid4(),
                    "email": email,
                    "username": username,
                    "hash": password_hash,
                    "verified": verified,
                    "created": created,
                },
            )
        db.session.commit()

        upgrade()

        assert list(db.session.scalars(select(User.username))) == ["done"]
        [pending] = db.session.scalars(select(PendingSignUp))
        assert (pending.email, pending.username) == ("fresh@example.com", "fresh")
        assert pending.code_hash is None
        assert pending.expires_at - pending.created_at == timedelta(hours=24)

        # Whoever made it signs in with their password and gets a code for it.
        outbox: list[dict] = []

        def collect(sender, message, **kw):
            outbox.append(message)

        email_sent.connect(collect)
        try:
            browser = Browser(app.test_client())
            response = browser.post("/signin", {"login": "fresh", "password": PASSWORD})
            assert response.headers["Location"] == "/verify"
            code = last_code(outbox)
            assert browser.post("/verify", {"code": code}, form_page="/verify").status_code == 303
        finally:
            email_sent.disconnect(collect)
        assert db.session.scalar(select(User).where(User.username == "fresh")).is_verified
        db.session.remove()
        db.engine.dispose()


def test_the_models_match_the_migrations(app):
    """Autogenerate finds nothing to do on the migrated test database: every model change
    came with its migration (the hand-written COLLATE "C" indexes aside)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from portal.models import include_in_autogenerate

    context = MigrationContext.configure(
        db.session.connection(),
        opts={"include_object": include_in_autogenerate, "compare_type": True},
    )
    assert compare_metadata(context, db.metadata) == []
