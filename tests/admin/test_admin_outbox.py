"""Admin: the email outbox page shows kind, recipient, status and error, never the content;
a failed email can be sent again."""

from datetime import timedelta

import responses
from sqlalchemy import select
from web_helpers import with_app

from portal import clock
from portal import outbox as delivery
from portal.extensions import db
from portal.flows import accounts
from portal.models import OutboxMessage, SecurityEvent

RESEND_URL = "https://api.resend.com/emails"


def test_admins_see_the_queue_but_never_the_content(admin, user, outbox):
    admin.post("/forgot-password", {"email": "alice@example.com"}, form_page="/forgot-password")

    page = admin.get("/admin/outbox").get_data(as_text=True)

    assert "reset_password" in page and "alice@example.com" in page and "sent" in page
    assert "/reset/" not in page
    failed_only = admin.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "No emails with this status" in failed_only


def test_a_failed_email_is_sent_again_by_an_admin(make_app, admin, user, admin_user, outbox):
    app = make_app(MAIL_BACKEND="resend", RESEND_API_KEY="re_test", MAIL_DELIVERY="worker")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as resend:
        resend.post(RESEND_URL, status=503, json={"message": "down"})

        def queue():
            accounts.send("alice@example.com", "account_exists", user=db.session.merge(user))
            db.session.commit()

        with_app(app, queue, request=True)
        row = db.session.scalar(select(OutboxMessage))
        while row.status == "pending":  # a day of failures
            clock.advance(max(row.available_at - clock.utcnow(), timedelta(0)))
            with_app(app, delivery.deliver_due)
            db.session.expire_all()
            row = db.session.scalar(select(OutboxMessage))
    assert row.status == "failed" and row.payload is not None  # kept for a retry
    page = admin.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "Send again" in page and "down" in page  # Resend's own words

    response = admin.post(
        f"/admin/outbox/{row.id}/retry", {}, form_page="/admin/outbox?status=failed"
    )

    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert row.status == "sent"  # delivered after the response (development delivery)
    assert [m["kind"] for m in outbox] == ["account_exists"]
    retried = db.session.scalar(select(SecurityEvent).where(SecurityEvent.kind == "email_retried"))
    assert retried.actor_id == admin_user.id
    assert (
        admin.post("/admin/outbox/999999/retry", {}, form_page="/admin/outbox").status_code == 404
    )


def test_members_cannot_see_the_outbox(member):
    assert member.get("/admin/outbox").status_code == 403
