"""`flask --app portal maintenance prune`: what no one needs any more goes, the rest stays."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_helpers import PASSWORD

from portal import clock
from portal.extensions import db
from portal.models import (
    Device,
    EmailSend,
    GuessBudget,
    OneTimeCode,
    OutboxMessage,
    PendingSignUp,
    SecurityEvent,
    UserSession,
)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def prune(app):
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=["maintenance", "prune", *args])
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        return result.output

    return run


def old_and_new(user):
    """One row that should go and one that should stay, in every table prune looks at."""
    now = clock.utcnow()
    long_ago = now - timedelta(days=40)
    db.session.add_all(
        [
            UserSession(user_id=user.id, kind="web", expires_at=long_ago, created_at=long_ago),
            UserSession(user_id=user.id, kind="web", expires_at=now + timedelta(days=1)),
            UserSession(
                user_id=user.id,
                kind="api",
                expires_at=now + timedelta(days=1),
                revoked_at=long_ago,
            ),
            OneTimeCode(user_id=user.id, purpose="x", secret_hash="a", expires_at=long_ago),
            OneTimeCode(
                user_id=user.id, purpose="y", secret_hash="b", expires_at=now + timedelta(hours=1)
            ),
            PendingSignUp(
                email="p@example.com", username="p1", password_hash="h", expires_at=long_ago
            ),
            PendingSignUp(
                email="q@example.com",
                username="q1",
                password_hash="h",
                expires_at=now + timedelta(hours=1),
            ),
            SecurityEvent(kind="signed_in", user_id=user.id, created_at=now - timedelta(days=400)),
            SecurityEvent(kind="signed_in", user_id=user.id, created_at=long_ago),
            OutboxMessage(
                kind="x", status="sent", idempotency_key="1", created_at=long_ago, payload=None
            ),
            OutboxMessage(kind="x", status="pending", idempotency_key="2", created_at=long_ago),
            OutboxMessage(kind="x", status="sent", idempotency_key="3"),
            EmailSend(kind="x", recipient_hash="h", created_at=long_ago),
            EmailSend(kind="x", recipient_hash="h"),
            GuessBudget(key="login:old", day_started_at=long_ago, window_started_at=long_ago),
            GuessBudget(key="login:new"),
            Device(
                user_id=user.id,
                token_hash="a" * 64,
                kind="web",
                last_used_at=now - timedelta(days=401),
            ),
            Device(user_id=user.id, token_hash="b" * 64, kind="web"),
        ]
    )
    db.session.commit()


def test_prune_removes_what_is_over_and_keeps_the_rest(prune, user):
    old_and_new(user)

    output = prune()

    assert count(UserSession) == 1
    assert count(OneTimeCode) == 1
    assert count(PendingSignUp) == 1
    assert count(SecurityEvent) == 1
    kept = db.session.scalars(select(OutboxMessage.idempotency_key))
    assert sorted(kept) == ["2", "3"]  # rows come back in no set order
    assert count(EmailSend) == 1
    assert list(db.session.scalars(select(GuessBudget.key))) == ["login:new"]
    assert count(Device) == 1
    assert "removed in all" in output and "expired pending sign-ups" in output


def test_prune_works_in_batches_and_again_removes_nothing(prune, user):
    for _ in range(5):
        db.session.add(
            PendingSignUp(
                email=f"{uuid.uuid4().hex[:6]}@example.com",
                username=uuid.uuid4().hex[:10],
                password_hash="h",
                expires_at=clock.utcnow() - timedelta(minutes=1),
            )
        )
    db.session.commit()

    prune("--batch", "2")
    assert count(PendingSignUp) == 0
    again = prune()
    assert "       0  removed in all" in again


def test_event_retention_is_configurable(app, prune, user):
    db.session.add(
        SecurityEvent(
            kind="signed_in", user_id=user.id, created_at=clock.utcnow() - timedelta(days=40)
        )
    )
    db.session.commit()
    app.config["EVENT_RETENTION_DAYS"] = 30

    prune()

    assert count(SecurityEvent) == 0


def test_prune_leaves_a_working_account(prune, browser, user):
    browser.sign_in()
    clock.advance(timedelta(days=45))  # the session expired long ago

    prune()

    assert browser.get("/profile").status_code == 302
    browser.sign_in("alice@example.com", PASSWORD)
    assert browser.get("/profile").status_code == 200
