"""Read-only GET endpoints run outside a transaction (portal/db_session.py): round trips to
PostgreSQL counted on the wire, on an app with real commits (not the savepoint fixture, which
holds every statement in the test's transaction)."""

import contextvars
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from db_helpers import app_config_for, database_url_for, migrate_fresh
from sqlalchemy import event, text
from web_helpers import PASSWORD, Browser

from portal import create_app
from portal.db_session import READ_ONLY_ENDPOINTS
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An app on <test database>_readonly, emptied and migrated once for this module."""
    url = database_url_for("readonly")
    migrate_fresh(url, tmp_path_factory.mktemp("readonly-migrate"))
    app = create_app(app_config_for(url, tmp_path_factory.mktemp("readonly")))
    with app.app_context():
        for name, admin in (("reader", False), ("boss", True)):
            db.session.add(
                User(
                    id=uuid.uuid4(),
                    email=f"{name}@example.com",
                    username=name,
                    password_hash=hash_password(PASSWORD),
                    is_verified=True,
                    is_admin=admin,
                    is_active=True,
                )
            )
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def client_of(app):
    """Each request in its own context, as on a server (no app context kept pushed)."""
    client = app.test_client()
    original = client.open

    def open_(*args, **kwargs):
        client.preserve_context = False
        return contextvars.Context().run(original, *args, **kwargs)

    client.open = open_
    return client


@contextmanager
def wire(app):
    """What reaches PostgreSQL: each statement, and each BEGIN/COMMIT/ROLLBACK psycopg
    sends by itself (psycopg sends those through Connection._exec_command)."""
    sent: list[str] = []
    original = psycopg.Connection._exec_command

    def exec_command(self, command, *args, **kwargs):
        sent.append(bytes(command).decode().split()[0].upper())
        return original(self, command, *args, **kwargs)

    def statement(_conn, _cursor, sql, *_args):
        sent.append(sql.split()[0].upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    psycopg.Connection._exec_command = exec_command
    try:
        yield sent
    finally:
        psycopg.Connection._exec_command = original
        event.remove(engine, "before_cursor_execute", statement)


def twice(app, call):
    """The second of two calls (the first may stamp the session's activity)."""
    call()
    with wire(app) as sent:
        response = call()
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return sent


def test_the_list_names_only_get_endpoints_of_the_app(served):
    rules = {rule.endpoint: rule.methods for rule in served.url_map.iter_rules()}
    for endpoint in READ_ONLY_ENDPOINTS:
        assert endpoint in rules, f"{endpoint} is no endpoint of the app"
        assert "GET" in rules[endpoint], endpoint
        assert rules[endpoint] - {"GET", "HEAD", "OPTIONS"} == set(), (
            f"{endpoint} also takes {rules[endpoint]}: only GET is run outside a transaction, "
            "but a shared view is easy to get wrong; keep read-only views GET-only"
        )


@pytest.fixture
def api_token(served):
    client = client_of(served)
    response = client.post(
        "/api/v1/auth/login", json={"email": "reader@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return client, {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_the_account_is_one_round_trip(served, api_token):
    client, headers = api_token
    assert twice(served, lambda: client.get("/api/v1/users/me", headers=headers)) == ["SELECT"]


def test_the_sessions_list_is_two_round_trips(served, api_token):
    client, headers = api_token
    sent = twice(served, lambda: client.get("/api/v1/sessions", headers=headers))
    assert sent == ["SELECT", "SELECT"]


def test_pages_that_read_make_no_transaction(served):
    reader = Browser(client_of(served))
    reader.sign_in("reader@example.com")
    assert twice(served, lambda: reader.get("/sessions")) == ["SELECT", "SELECT"]
    assert "BEGIN" not in twice(served, lambda: reader.get("/activity"))
    assert "BEGIN" not in twice(served, lambda: reader.get("/profile"))

    boss = Browser(client_of(served))
    boss.sign_in("boss@example.com")
    fragment = twice(served, lambda: boss.get("/admin/?q=reader", headers={"HX-Request": "true"}))
    assert "BEGIN" not in fragment and "ROLLBACK" not in fragment, fragment


def test_the_activity_stamp_is_written_for_good(served, api_token):
    """A read-only request's one write (the session's last use) is committed by itself."""
    client, headers = api_token
    sessions = client.get("/api/v1/sessions", headers=headers).get_json()["sessions"]
    current = next(s["id"] for s in sessions if s["is_current"])
    with served.app_context():
        db.session.execute(text("UPDATE sessions SET last_seen_at = now() - interval '1 hour'"))
        db.session.commit()
        db.session.remove()
    with wire(served) as sent:
        assert client.get("/api/v1/users/me", headers=headers).status_code == 200
    # No BEGIN, no COMMIT: the UPDATE commits itself, and the answer comes from what was
    # loaded (nothing is read back).
    assert sent == ["SELECT", "UPDATE"], sent
    with served.app_context():
        stamped = db.session.scalar(
            text("SELECT last_seen_at > now() - interval '1 minute' FROM sessions WHERE id = :id"),
            {"id": current},
        )
        db.session.remove()
    assert stamped is True


def test_writes_still_run_in_a_transaction(served, api_token):
    client, headers = api_token
    client_of(served).post(
        "/api/v1/auth/login", json={"email": "reader@example.com", "password": PASSWORD}
    )
    sessions = client.get("/api/v1/sessions", headers=headers).get_json()["sessions"]
    session_id = next(s["id"] for s in sessions if not s["is_current"])
    with wire(served) as sent:
        response = client.delete(f"/api/v1/sessions/{session_id}", headers=headers)
    assert response.status_code == 204, response.get_data(as_text=True)
    # (A statement is noted as it is handed to psycopg, which sends BEGIN first.)
    assert sent.count("BEGIN") == 1 and sent[-1] == "COMMIT", sent


def test_a_sign_in_from_a_known_device_is_one_transaction(served):
    """Round trips of an API sign-in, counted on the wire: one BEGIN, its four statements
    (pinned one by one in tests/api/test_work_per_request.py; the account's last sign-in and
    the device's last use were written by the first sign-in a moment ago), one COMMIT,
    nothing read back after it."""
    client = client_of(served)
    body = {"email": "reader@example.com", "password": PASSWORD}
    first = client.post("/api/v1/auth/login", json=body)
    assert first.status_code == 200, first.get_data(as_text=True)
    body["device_token"] = first.get_json()["device_token"]
    with wire(served) as sent:
        response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert sent.count("BEGIN") == 1 and sent[-1] == "COMMIT", sent
    assert sent.count("COMMIT") == 1 and "ROLLBACK" not in sent, sent
    assert len(sent) == 2 + 4, sent  # BEGIN, 4 statements, COMMIT
