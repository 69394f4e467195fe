"""The email outbox: queued with the change, delivered once, secrets encrypted and erased,
expired secrets dropped, failures retried with backoff, notices merged (README "Email delivery")."""

from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select, text
from web_helpers import PASSWORD, STRONG_PASSWORD, kinds_sent, last_code, with_app

from portal import clock
from portal import outbox as delivery
from portal.extensions import db
from portal.flows import accounts, password_reset
from portal.models import OutboxMessage, User
from portal.origin import Origin

RESEND_URL = "https://api.resend.com/emails"


def rows(kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


@pytest.fixture
def worker_app(make_app):
    """The portal as production runs it: nothing is sent until a worker delivers."""
    return make_app(MAIL_DELIVERY="worker")


def test_an_email_is_queued_with_its_change_and_not_for_a_rolled_back_one(app, user, outbox):
    with app.test_request_context("/"):
        accounts.send("alice@example.com", "account_exists", user=user)
        db.session.rollback()
    assert rows() == []

    with app.test_request_context("/"):
        accounts.send("alice@example.com", "account_exists", user=user)
        db.session.commit()
    assert [r.status for r in rows()] == ["pending"]
    assert outbox == []  # queued, not sent, until delivery
    assert outbox_deliver() == 1
    assert [m["kind"] for m in outbox] == ["account_exists"]


def outbox_deliver() -> int:
    return delivery.deliver_due()


def test_with_a_worker_the_request_sends_nothing_and_the_worker_delivers_once(
    worker_app, user, outbox
):
    client = worker_app.test_client()
    client.post("/api/v1/auth/forgot-password", json={"email": "alice@example.com"})
    assert outbox == []
    [job] = rows()
    assert job.kind == "job:reset_link"

    result = worker_app.test_cli_runner().invoke(args=["mail", "worker", "--once"])

    assert result.exit_code == 0, result.output
    assert [m["kind"] for m in outbox] == ["reset_password"]
    assert [r.status for r in rows()] == ["sent", "sent"]
    worker_app.test_cli_runner().invoke(args=["mail", "worker", "--once"])
    assert len(outbox) == 1  # each message once


def test_secrets_are_encrypted_at_rest_and_erased_once_sent(worker_app, user, outbox):
    worker_app.test_client().post(
        "/api/v1/auth/forgot-password", json={"email": "alice@example.com"}
    )
    # Deliver the job only: it queues the reset email with its link inside.
    assert outbox_deliver_one() == "job:reset_link"
    [email] = rows("reset_password")
    assert email.status == "pending"
    raw = db.session.execute(text("SELECT payload FROM outbox WHERE id = :id"), {"id": email.id})
    stored = raw.scalar()
    assert "/reset/" not in stored and "alice@example.com" not in stored

    outbox_deliver()

    link = [m for m in outbox if m["kind"] == "reset_password"][0]["text"]
    assert "/reset/" in link
    assert db.session.scalar(select(func.count()).where(OutboxMessage.payload.is_not(None))) == 0


def outbox_deliver_one() -> str:
    """Deliver exactly the oldest due row and say what it was."""
    first = rows()[0].kind
    delivery.deliver_due(limit=1)
    return first


def test_a_code_that_expired_before_delivery_is_dropped_not_sent_late(worker_app, outbox):
    client = worker_app.test_client()
    client.post(
        "/api/v1/auth/register",
        json={"email": "bob@example.com", "username": "bob", "password": STRONG_PASSWORD},
    )
    outbox_deliver_one()  # the job queues the code email

    clock.advance(timedelta(minutes=16))  # the worker was down longer than the code lives
    outbox_deliver()

    [email] = rows("verify_email")
    assert email.status == "dropped" and email.payload is None
    assert "expired" in email.last_error
    assert outbox == []


@pytest.fixture
def resend_app(make_app):
    return make_app(MAIL_BACKEND="resend", RESEND_API_KEY="re_test", MAIL_DELIVERY="worker")


def queue_one(app, user) -> None:
    def queue():
        accounts.send("alice@example.com", "account_exists", user=db.session.merge(user))
        db.session.commit()

    with_app(app, queue, request=True)


def deliver_with(app) -> int:
    return with_app(app, delivery.deliver_due)


def test_failures_are_retried_with_growing_waits_then_given_up_within_a_day(resend_app, user):
    waits = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as resend:
        resend.post(RESEND_URL, status=503, json={"message": "down"})
        queue_one(resend_app, user)
        while rows()[0].status == "pending":
            clock.advance(max(rows()[0].available_at - clock.utcnow(), timedelta(0)))
            before = clock.utcnow()
            deliver_with(resend_app)
            db.session.expire_all()
            waits.append((rows()[0].available_at - before).total_seconds())
    row = rows()[0]
    assert row.status == "failed" and row.attempts > 5  # content kept (encrypted) for a retry
    assert clock.utcnow() - row.created_at <= timedelta(hours=23)
    growing = waits[:-1]
    assert growing[0] < 60 and max(growing) <= 1.5 * 3600
    # Exponential (with jitter) until the hour's ceiling.
    assert growing[3] > growing[0] * 2


def test_the_same_idempotency_key_is_sent_on_every_try(resend_app, user):
    with responses.RequestsMock() as resend:
        resend.post(RESEND_URL, status=500, json={"message": "down"})
        resend.post(RESEND_URL, status=500, json={"message": "down"})
        resend.post(RESEND_URL, json={"id": "ok"})
        queue_one(resend_app, user)
        deliver_with(resend_app)  # tried twice (one quick retry): both fail
        clock.advance(timedelta(minutes=2))
        deliver_with(resend_app)
        keys = {call.request.headers["Idempotency-Key"] for call in resend.calls}
    db.session.expire_all()
    assert keys == {rows()[0].idempotency_key}
    assert rows()[0].status == "sent" and rows()[0].attempts == 1


def test_security_notices_within_ten_minutes_merge_into_one_email(auth, user, outbox):
    auth.post(
        "/profile/password",
        {"current_password": PASSWORD, "new_password": STRONG_PASSWORD},
        form_page="/profile",
    )
    clock.advance(timedelta(minutes=3))
    auth.post(
        "/profile/password",
        {"current_password": STRONG_PASSWORD, "new_password": PASSWORD + "!"},
        form_page="/profile",
    )
    clock.advance(timedelta(minutes=3))
    auth.post(
        "/profile/password",
        {"current_password": PASSWORD + "!", "new_password": STRONG_PASSWORD},
        form_page="/profile",
    )
    assert [m["kind"] for m in outbox] == ["password_changed"]  # the first, at once

    clock.advance(timedelta(minutes=3))
    assert outbox_deliver() == 0  # the other two wait for the end of the 10 minutes
    clock.advance(timedelta(minutes=1, seconds=1))
    assert outbox_deliver() == 1

    assert kinds_sent(outbox) == ["password_changed"] * 3  # none dropped
    assert len(outbox) == 2


def test_jobs_decide_in_the_worker_so_the_request_does_the_same_work(app, user, outbox):
    """Forgot-password for a known and an unknown address queue the same single job."""
    with app.test_request_context("/"):
        password_reset.request_password_reset("alice@example.com", Origin())
        password_reset.request_password_reset("nobody@example.com", Origin())
    assert [r.kind for r in rows()] == ["job:reset_link", "job:reset_link"]
    outbox_deliver()
    assert [m["to"] for m in outbox] == [["alice@example.com"]]
    assert [r.status for r in rows()] == ["sent", "sent", "sent"]


def test_the_sign_up_code_waits_in_the_outbox_encrypted(browser, outbox):
    browser.sign_up()
    code = last_code(outbox)

    stored = db.session.execute(text("SELECT kind, payload FROM outbox")).all()

    assert all(payload is None for _, payload in stored)  # delivered: erased
    assert code not in repr(stored)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_storm_of_notices_stays_one_email_of_bounded_size(app, user, outbox):
    """30 notices in 10 minutes: the first at once, then one digest showing 20 in full and
    counting the rest (an attacker holding the password can't make it grow without end)."""
    with app.test_request_context("/"):
        for _ in range(30):
            accounts.notify(user, "password_changed", device="Firefox on Linux")
            db.session.commit()
    outbox_deliver()
    assert [m["kind"] for m in outbox] == ["password_changed"]

    clock.advance(timedelta(minutes=10, seconds=1))
    outbox_deliver()

    digest = outbox[-1]
    assert len(outbox) == 2
    assert digest["subject"] == "29 security notices about your Portal account"
    assert digest["text"].count("was just changed") == 20
    assert "And 9 more “Your Portal password was changed”" in digest["text"]
    assert kinds_sent(outbox).count("password_changed") == 30


def test_a_full_digest_counts_further_notices_without_rewriting_its_payload(app, user, outbox):
    """Past DIGEST_ITEMS, a notice adds to the digest's counts alone: the encrypted payload
    (tens of kilobytes) is neither opened nor written again, so a storm costs a small update
    per notice. The counts are by kind, and the email says them."""
    items = delivery.DIGEST_ITEMS
    with app.test_request_context("/"):
        for _ in range(items + 1):  # the first goes at once, the next `items` fill the digest
            accounts.notify(user, "password_changed", device="Firefox on Linux")
            db.session.commit()
        [digest] = rows(delivery.DIGEST)
        sealed = digest.payload
        assert digest.digest_more == {}

        accounts.notify(user, "password_changed", device="Firefox on Linux")
        accounts.notify(
            user,
            "new_sign_in",
            device="Edge",
            ip_address="192.0.2.9",
            when="now",
            link="https://portal.test/not-me",
        )
        db.session.commit()
        db.session.expire_all()
        [digest] = rows(delivery.DIGEST)
        assert digest.payload == sealed  # not sealed again
        assert digest.digest_more == {"password_changed": 1, "new_sign_in": 1}

    clock.advance(timedelta(minutes=10, seconds=1))
    outbox_deliver()
    sent = outbox[-1]
    assert sent["subject"] == f"{items + 2} security notices about your Portal account"
    assert sent["text"].count("was just changed") == items
    assert "And 1 more “Your Portal password was changed”, 1 more “" in sent["text"]
    assert kinds_sent(outbox).count("new_sign_in") == 1


def test_a_digest_queued_before_its_counts_had_a_column_still_counts_and_sends(app, user, outbox):
    """A full digest written by the previous version kept its counts inside the payload: the
    next notice moves them to the column, and one not added to is sent with them."""
    with app.test_request_context("/"):
        for _ in range(3):
            accounts.notify(user, "password_changed", device="Firefox on Linux")
            db.session.commit()
        [digest] = rows(delivery.DIGEST)
        data = delivery._open(digest.payload)
        data["more"] = {"password_changed": 5}  # as the previous version sealed it
        digest.payload = delivery._seal(data)
        db.session.commit()

        accounts.notify(user, "password_changed", device="Firefox on Linux")
        db.session.commit()
        db.session.expire_all()
        [digest] = rows(delivery.DIGEST)
        assert digest.digest_more == {"password_changed": 6}
        assert "more" not in delivery._open(digest.payload)

    clock.advance(timedelta(minutes=10, seconds=1))
    outbox_deliver()
    assert outbox[-1]["subject"] == "8 security notices about your Portal account"
    assert "And 6 more" in outbox[-1]["text"]
