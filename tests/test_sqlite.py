"""The embedded default: the migrations build a SQLite database the pages work on."""

import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import Uuid, inspect, literal, select
from web_helpers import STRONG_PASSWORD, Browser, ClosingClient, last_code

from portal import create_app
from portal.email import email_sent
from portal.extensions import db
from portal.models import User, UserSession, uuid_text


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
            "SECRET_KEY": "sqlite-test-secret-key-that-is-long-enough-0123",
            "MAIL_BACKEND": "file",
            "MAIL_FILE_DIR": str(tmp_path / "mail"),
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 8,
            "RATELIMIT_ENABLED": False,
        }
    )
    app.test_client_class = ClosingClient
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def signed_up(app, email: str, username: str) -> Browser:
    """A browser that signed up and confirmed its address with the code it was sent."""
    outbox = []
    collect = lambda sender, message, **kw: outbox.append(message)  # noqa: E731
    email_sent.connect(collect)
    try:
        browser = Browser(app.test_client())
        browser.sign_up(email=email, username=username)
        browser.verify(last_code(outbox), email=email)
    finally:
        email_sent.disconnect(collect)
    return browser


def test_migrations_build_the_schema_on_sqlite(sqlite_app):
    tables = set(inspect(db.engine).get_table_names())

    assert {"users", "sessions", "one_time_codes", "security_events"} <= tables


def test_sign_up_verify_and_sign_in_on_sqlite(sqlite_app):
    outbox = []
    collect = lambda sender, message, **kw: outbox.append(message)  # noqa: E731
    email_sent.connect(collect)
    try:
        browser = Browser(sqlite_app.test_client())
        response = browser.sign_up(email="sam@example.com", username="sam")
        assert response.status_code == 303, response.get_data(as_text=True)

        assert browser.verify(last_code(outbox), email="sam@example.com").status_code == 303
        assert browser.get("/profile").status_code == 200
        assert browser.sign_out().status_code == 303
        browser.sign_in("SAM", STRONG_PASSWORD)
        assert "This device" in browser.get("/sessions").get_data(as_text=True)
    finally:
        email_sent.disconnect(collect)

    user = db.session.scalar(select(User).where(User.username == "sam"))
    assert user.is_verified
    assert user.created_at.tzinfo is not None
    sessions = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id))
    assert sorted(s.revoked_at is None for s in sessions) == [False, True]


def test_a_spent_guessing_budget_holds_sign_in_on_sqlite(sqlite_app):
    """Sign-in reads the account's budget in its own look-up, by a key made in SQL
    (models.uuid_text): on SQLite too it is the key the failures were counted under."""
    signed_up(sqlite_app, "kim@example.com", "kim").sign_out()
    stranger = Browser(sqlite_app.test_client())
    for _ in range(10):
        wrong = stranger.post("/signin", {"login": "kim", "password": "not the password 1"})
        assert wrong.status_code == 422

    held = stranger.post("/signin", {"login": "kim", "password": STRONG_PASSWORD})

    assert held.status_code == 429, held.get_data(as_text=True)
    assert "Too many wrong tries" in held.get_data(as_text=True)


def test_uuid_text_writes_a_uuid_as_python_does_on_sqlite(sqlite_app):
    value = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert db.session.scalar(select(uuid_text(literal(value, Uuid)))) == str(value)


def test_the_api_lists_sessions_on_sqlite(sqlite_app):
    """GET /sessions writes its rows as they come (ids as text by models.uuid_text, times
    as SQLite keeps them): the same shape as on PostgreSQL."""
    signed_up(sqlite_app, "lee@example.com", "lee")
    client = sqlite_app.test_client()
    tokens = client.post(
        "/api/v1/auth/login", json={"email": "lee@example.com", "password": STRONG_PASSWORD}
    ).get_json()

    listed = client.get(
        "/api/v1/sessions", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    sessions = listed.get_json()["sessions"]
    assert listed.status_code == 200 and len(sessions) == 2  # the browser's and this one
    assert [s["kind"] for s in sessions] == ["api", "web"]  # newest first
    assert [s["is_current"] for s in sessions] == [True, False]
    assert all(str(uuid.UUID(s["id"])) == s["id"] for s in sessions)
    assert all(s[k].endswith("Z") for s in sessions for k in ("created_at", "expires_at"))
