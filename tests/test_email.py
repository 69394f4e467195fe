"""send_email and its backends: console, file, and Resend's HTTP API (faked)."""

import json
import uuid
from datetime import timedelta

import pytest
import responses
from sqlalchemy import select
from web_helpers import CODE_RE, code_in, last_code, mail_files

from portal import clock
from portal import outbox as outbox_delivery
from portal.email import EmailError, send_email
from portal.extensions import db
from portal.models import OutboxMessage, PendingSignUp, User

RESEND_URL = "https://api.resend.com/emails"


@pytest.fixture
def resend_api(app):
    """The Resend backend, talking to a fake of Resend's HTTP API."""
    app.config.update(MAIL_BACKEND="resend", RESEND_API_KEY="re_test_key")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        yield fake


def sent_payloads(fake) -> list[dict]:
    return [json.loads(call.request.body) for call in fake.calls]


def test_file_backend_writes_one_json_file_per_message(app, browser, outbox):
    browser.sign_up()

    [message] = mail_files(app)
    assert set(message) == {"to", "subject", "text", "html", "kind"}
    assert message["to"] == ["bob@example.com"]
    assert message["kind"] == "verify_email"
    assert message["subject"] == "Your Portal confirmation code"
    code = last_code(outbox)
    assert code in message["text"] and code in message["html"]
    assert message == outbox[0]


def test_console_backend_prints_the_message(app, browser, capsys, outbox):
    app.config["MAIL_BACKEND"] = "console"

    browser.sign_up()

    out = capsys.readouterr().out
    assert "email to bob@example.com: Your Portal confirmation code" in out
    assert last_code(outbox) in out
    assert mail_files(app) == []


@pytest.mark.parametrize(
    ("kind", "context", "expected"),
    [
        ("verify_email", {"code": "012345", "minutes": 15}, "012345"),
        ("email_change", {"code": "654321", "minutes": 15}, "654321"),
        (
            "reset_password",
            {"link": "http://portal.test/reset/abc", "minutes": 30},
            "http://portal.test/reset/abc",
        ),
        ("password_changed", {"device": "Firefox on Linux"}, "password"),
        ("account_exists", {}, "already"),
        ("email_changed", {"new_email": "new@example.com", "device": "x"}, "new@example.com"),
        ("token_reuse_alert", {"device": "Portal iOS"}, "Portal iOS"),
        ("account_deleted", {"username": "alice"}, "deleted"),
    ],
)
def test_each_kind_has_a_text_and_an_html_part(app, user, outbox, kind, context, expected):
    send_email("alice@example.com", kind, user=user, **context)

    [message] = outbox
    assert expected in message["text"]
    assert expected in message["html"]
    assert message["html"].lstrip().lower().startswith(("<!doctype", "<html"))


def test_resend_backend_posts_the_message_with_an_idempotency_key(app, resend_api, browser):
    resend_api.post(RESEND_URL, json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})

    assert browser.sign_up().status_code == 303

    [call] = resend_api.calls
    headers = call.request.headers
    assert headers["Authorization"] == "Bearer re_test_key"
    uuid.UUID(headers["Idempotency-Key"])
    [payload] = sent_payloads(resend_api)
    assert payload["to"] == ["bob@example.com"]
    assert payload["from"] == "Portal <noreply@localhost>"
    assert payload["subject"] == "Your Portal confirmation code"
    assert CODE_RE.search(payload["text"])
    assert payload["html"]
    assert payload["tags"] == [{"name": "kind", "value": "verify_email"}]


def test_each_message_has_its_own_idempotency_key(app, resend_api, user):
    resend_api.post(RESEND_URL, json={"id": "x"})

    send_email("alice@example.com", "account_exists", user=user)
    send_email("alice@example.com", "account_exists", user=user)

    keys = [call.request.headers["Idempotency-Key"] for call in resend_api.calls]
    assert len(set(keys)) == 2


def test_a_failed_attempt_is_retried_once_with_the_same_idempotency_key(
    app, resend_api, user, outbox
):
    resend_api.post(RESEND_URL, status=503, json={"message": "busy"})
    resend_api.post(RESEND_URL, json={"id": "x"})

    send_email("alice@example.com", "account_exists", user=user)

    keys = [call.request.headers["Idempotency-Key"] for call in resend_api.calls]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [m["kind"] for m in outbox] == ["account_exists"]


def test_a_refused_send_is_not_retried(app, resend_api, user):
    resend_api.post(RESEND_URL, status=422, json={"name": "validation_error", "message": "no"})

    with pytest.raises(EmailError):
        send_email("alice@example.com", "account_exists", user=user)
    assert len(resend_api.calls) == 1


def test_a_refused_send_raises_email_error(app, resend_api, user, outbox):
    resend_api.post(RESEND_URL, status=422, json={"name": "validation_error", "message": "no"})

    with pytest.raises(EmailError):
        send_email("alice@example.com", "account_exists", user=user)
    assert outbox == []


def test_a_failing_send_during_sign_up_is_retried_until_the_code_goes_out(
    app, resend_api, browser, outbox
):
    resend_api.post(RESEND_URL, status=500, json={"message": "down"})

    response = browser.sign_up()

    assert response.status_code == 303
    assert response.headers["Location"] == "/verify"
    assert db.session.scalar(select(PendingSignUp)).email == "bob@example.com"
    queued = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "verify_email"))
    assert queued.status == "pending" and queued.attempts == 1
    assert queued.last_error == "down"  # what Resend answered

    # The mail service is back: the retry (with backoff) delivers the code, which confirms.
    resend_api.replace(responses.POST, RESEND_URL, json={"id": "ok"})
    clock.advance(timedelta(minutes=1))
    assert outbox_delivery.deliver_due() == 1
    sent = sent_payloads(resend_api)
    code = code_in(sent[-1]["text"])
    assert browser.verify(code).status_code == 303
    assert db.session.scalar(select(User).where(User.email == "bob@example.com")).is_verified
    # Both tries carried the row's idempotency key: Resend sends it once whatever happened.
    keys = {call.request.headers["Idempotency-Key"] for call in resend_api.calls}
    assert keys == {queued.idempotency_key}


def test_a_failing_reset_email_still_answers_the_same_page(app, resend_api, browser, user):
    resend_api.post(RESEND_URL, status=500, json={"message": "down"})

    response = browser.post(
        "/forgot-password", {"email": "alice@example.com"}, form_page="/forgot-password"
    )

    assert response.status_code == 200
    assert "If <strong>alice@example.com</strong> has an account" in response.get_data(as_text=True)
    assert len(resend_api.calls) == 2  # tried (and retried once), after the response
    queued = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reset_password"))
    assert queued.status == "pending" and queued.attempts == 1  # and later again


def test_emails_use_the_base_url(app, browser, user, outbox):
    browser.post("/forgot-password", {"email": "alice@example.com"}, form_page="/forgot-password")

    [message] = outbox
    assert "http://portal.test/reset/" in message["text"]
    assert "http://portal.test/reset/" in message["html"]
    assert "localhost" not in message["text"]
