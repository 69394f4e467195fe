"""The security events each flow writes, driven through the pages as a person would."""

import json
import logging
import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from web_helpers import NEW_PASSWORD, PASSWORD, STRONG_PASSWORD, last_code, last_link

from portal.extensions import db
from portal.flows import events
from portal.models import SecurityEvent, User, UserSession
from portal.origin import Origin

FIREFOX = "Firefox on Linux"


def all_events() -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)))


def kinds() -> list[str]:
    return [e.kind for e in all_events()]


def last_event(kind: str) -> SecurityEvent:
    return [e for e in all_events() if e.kind == kind][-1]


def assert_no_secret_stored(*secrets: str) -> None:
    """No password, code or token anywhere in the events table."""
    stored = json.dumps(
        [[e.kind, e.email, e.ip_address, e.device_label, e.data] for e in all_events()]
    )
    for secret in secrets:
        assert secret not in stored


def test_sign_up_and_verify(browser, outbox):
    assert browser.sign_up(email="Bob@Example.com", username="bob").status_code == 303
    assert kinds() == []  # a pending sign-up is not an account yet

    code = last_code(outbox)
    assert browser.verify(code).status_code == 303
    assert kinds() == ["signed_up", "email_verified", "signed_in"]
    signed_up = last_event("signed_up")
    assert signed_up.email == "bob@example.com"
    assert signed_up.device_label == FIREFOX and signed_up.ip_address == "127.0.0.1"
    signed_in = last_event("signed_in")
    assert signed_in.session_id is not None and signed_in.data == {"method": "email code"}
    assert_no_secret_stored(STRONG_PASSWORD, code)


def test_sign_in_failed_sign_in_and_sign_out(browser, user):
    response = browser.post("/signin", {"login": "alice", "password": "wrong password!"})
    assert response.status_code == 422
    failed = last_event("sign_in_failed")
    assert failed.user_id == user.id and failed.device_label == FIREFOX and failed.data == {}

    # an unknown login leaves a trace too, for admins (no account to show it to)
    browser.post("/signin", {"login": "nobody", "password": "wrong password!"})
    assert kinds() == ["sign_in_failed", "sign_in_failed"]
    unknown = last_event("sign_in_failed")
    assert unknown.user_id is None and unknown.data == {"login": "nobody"}

    browser.sign_in()
    session = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert last_event("signed_in").session_id == session.id

    browser.sign_out()
    assert kinds() == ["sign_in_failed", "sign_in_failed", "signed_in", "signed_out"]
    assert last_event("signed_out").session_id == session.id
    assert_no_secret_stored(PASSWORD, "wrong password!")


def test_sign_out_everywhere(auth, new_browser, user):
    new_browser().sign_in()
    auth.post("/signout/everywhere", form_page="/profile")
    event = last_event("signed_out_everywhere")
    assert event.data == {"count": "2"} and event.actor_id is None


def test_ending_own_sessions(auth, new_browser, user):
    phone = new_browser()
    phone.sign_in()
    tablet = new_browser()
    tablet.sign_in()
    phone_session = db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.created_at)
    ).all()[1]
    auth.post(f"/sessions/{phone_session.id}/end", form_page="/sessions")
    ended = last_event("session_ended")
    assert ended.actor_id is None and ended.session_id == phone_session.id
    assert ended.data == {"device": phone_session.device_label}

    auth.post("/sessions/end-others", form_page="/sessions")
    assert last_event("other_sessions_ended").data == {"count": "1"}


def test_password_change(auth, user, outbox):
    response = auth.post(
        "/profile/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        form_page="/profile",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    event = last_event("password_changed")
    assert event.data == {"sessions_ended": "0"} and event.device_label == FIREFOX
    assert_no_secret_stored(PASSWORD, NEW_PASSWORD)


def test_password_reset_requested_and_completed(browser, user, outbox):
    browser.post("/forgot-password", {"email": "alice@example.com"}, form_page="/forgot-password")
    assert kinds() == ["password_reset_requested"]
    path = urlsplit(last_link(outbox)).path
    token = path.rsplit("/", 1)[1]
    response = browser.post(path, {"password": NEW_PASSWORD}, form_page=path)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == "/signin"
    assert kinds() == ["password_reset_requested", "password_reset_completed"]
    assert_no_secret_stored(token, NEW_PASSWORD)

    # an unknown address writes nothing
    browser.post("/forgot-password", {"email": "nobody@example.com"}, form_page="/forgot-password")
    assert kinds() == ["password_reset_requested", "password_reset_completed"]


def test_username_and_email_changes(auth, user, outbox):
    auth.post("/profile/username", {"username": "Alicia"}, form_page="/profile")
    assert last_event("username_changed").data == {"old": "alice", "new": "alicia"}

    auth.post(
        "/profile/email",
        {"email": "alicia@example.org", "password": PASSWORD},
        form_page="/profile",
    )
    assert last_event("email_change_requested").data == {"new": "alicia@example.org"}
    code = last_code(outbox, "email_change")
    response = auth.post("/profile/email/confirm", {"code": code}, form_page="/profile")
    assert response.status_code == 303, response.get_data(as_text=True)
    changed = last_event("email_changed")
    assert changed.data == {"old": "alice@example.com", "new": "alicia@example.org"}
    assert changed.email == "alicia@example.org"
    assert_no_secret_stored(code)


def test_deleting_ones_own_account_keeps_the_events_detached(auth, user, outbox):
    user_id = user.id
    response = auth.post("/profile/delete", {"password": PASSWORD}, form_page="/profile/delete")
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expunge_all()
    assert db.session.get(User, user_id) is None
    event = last_event("account_deleted")
    assert event.user_id is None and event.actor_id is None
    assert event.email == "alice@example.com"
    assert all(e.user_id is None for e in all_events())
    assert_no_secret_stored(PASSWORD)


def test_record_drops_secrets_whatever_the_caller_passes(app, user):
    events.record(
        "signed_in",
        user,
        origin=Origin("203.0.113.7", "curl/8.0"),
        password="hunter2hunter2",
        code="123456",
        token="tok-abc",
        refresh_token="r-abc",
        access_token="a-abc",
        secret="s-abc",
        note="kept",
    )
    db.session.commit()
    event = last_event("signed_in")
    assert event.data == {"note": "kept"}
    assert event.ip_address == "203.0.113.7"


def test_values_are_cut_to_size(app, user):
    events.record("signed_in", user, origin=Origin("1" * 100, "x" * 600), note="n" * 500)
    db.session.commit()
    event = last_event("signed_in")
    assert len(event.ip_address) == 64 and len(event.data["note"]) == events.MAX_VALUE


def test_data_keys_naming_a_secret_are_never_stored(app, user):
    events.record(
        "password_changed",
        user,
        new_password="hunter2 hunter2",
        reset_token="abc",
        verification_code="123456",
        client_secret="s",
        device="Firefox on Linux",
    )
    db.session.commit()
    assert last_event("password_changed").data == {"device": "Firefox on Linux"}


class BrokenOrigin:
    @property
    def ip_address(self):
        raise RuntimeError("no address")


def test_a_failing_record_never_breaks_the_action(app, user, caplog):
    with caplog.at_level(logging.ERROR):
        events.record("signed_in", user, origin=BrokenOrigin())
    user.username = "still-works"
    db.session.commit()
    db.session.refresh(user)
    assert user.username == "still-works"
    assert kinds() == []
    assert "security_event_failed" in caplog.text


def test_a_failing_record_inside_a_page_still_signs_in(browser, user, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("audit store is broken")

    monkeypatch.setattr(events, "clock", SimpleNamespace(utcnow=explode))
    browser.sign_in()
    assert browser.get("/profile").status_code == 200
    assert kinds() == []


@pytest.mark.parametrize("kind", ["signed_in", "sign_in_failed"])
def test_events_name_the_device_and_address(browser, user, kind):
    password = PASSWORD if kind == "signed_in" else "not the password"
    browser.post("/signin", {"login": "alice", "password": password})
    event = last_event(kind)
    assert (event.device_label, event.ip_address) == (FIREFOX, "127.0.0.1")
    assert re.fullmatch(r"[\w.:]+", event.ip_address)


def test_events_of_a_rolled_back_transaction_are_never_written(app, user):
    events.record("signed_in", user)
    db.session.rollback()
    events.record("signed_out", user)
    db.session.commit()

    assert kinds() == ["signed_out"]


def test_the_events_of_a_commit_are_one_insert_after_the_rest(app, user, count_queries):
    """Written by the commit, after the rows they name, in one statement."""
    events.record("signed_in", user)
    events.record("username_changed", user, old="alice", new="alice2")
    user.username = "alice2"
    with count_queries() as sent:
        db.session.commit()

    assert [q.split()[0] + " " + q.split()[1 if q.startswith("UPDATE") else 2] for q in sent] == [
        "UPDATE users",
        "INSERT security_events",
    ], sent
    assert kinds() == ["signed_in", "username_changed"]
