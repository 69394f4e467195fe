"""Profile: username, email (confirmed by a code to the new address), password, deletion."""

import pytest
from sqlalchemy import event, func, select
from web_helpers import PASSWORD, STRONG_PASSWORD, deliver_held_mail, kinds_sent, last_code

from portal.extensions import db
from portal.flows import FlowError, profile
from portal.models import OneTimeCode, OutboxMessage, SecurityEvent, User, UserSession
from portal.origin import Origin


def post(browser, path, data, **kw):
    return browser.post(path, data, form_page="/profile", **kw)


def change_email(browser, email, password=PASSWORD, **kw):
    return post(browser, "/profile/email", {"email": email, "password": password}, **kw)


def confirm(browser, code, **kw):
    return post(browser, "/profile/email/confirm", {"code": code}, **kw)


def change_password(browser, current=PASSWORD, new=STRONG_PASSWORD, **kw):
    return post(
        browser, "/profile/password", {"current_password": current, "new_password": new}, **kw
    )


def test_profile_needs_a_signed_in_browser(browser):
    response = browser.get("/profile")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


def test_profile_shows_who_you_are(auth):
    html = auth.get("/profile").get_data(as_text=True)

    assert "alice@example.com" in html and "alice" in html


def test_change_username(auth, user):
    response = post(auth, "/profile/username", {"username": "Alice.Liddell"})

    assert response.status_code == 303
    assert user.username == "alice.liddell"
    assert "alice.liddell" in auth.get("/profile").get_data(as_text=True)


def test_change_username_to_a_taken_one_is_refused(auth, user, make_user):
    make_user(email="bob@example.com", username="bob")

    response = post(auth, "/profile/username", {"username": "BOB"})

    assert response.status_code == 422
    assert 'id="username-error">That username is taken' in response.get_data(as_text=True)
    assert user.username == "alice"


@pytest.mark.parametrize("username", ["", "ab", "ünïcødé", "with space", "x" * 10_000])
def test_change_username_to_an_invalid_one_is_refused(auth, user, username):
    response = post(auth, "/profile/username", {"username": username}, htmx=True)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="username-error"' in html
    assert user.username == "alice"


def test_change_email_sends_a_code_to_the_new_address_and_switches_after_it(auth, user, outbox):
    response = change_email(auth, "Alice.New@Example.com")

    assert response.status_code == 303
    assert [(m["kind"], m["to"]) for m in outbox] == [("email_change", ["alice.new@example.com"])]
    assert user.email == "alice@example.com"  # nothing changes before the code
    assert "Confirm alice.new@example.com" in auth.get("/profile").get_data(as_text=True)

    response = confirm(auth, last_code(outbox, "email_change"))

    assert response.status_code == 303
    assert user.email == "alice.new@example.com"
    assert user.pending_email is None
    # The old address is told, in case this wasn't its owner.
    notice = outbox[-1]
    assert (notice["kind"], notice["to"]) == ("email_changed", ["alice@example.com"])
    assert "alice.new@example.com" in notice["text"]
    auth.sign_out()
    auth.sign_in("alice.new@example.com")


def test_change_email_with_a_wrong_code_keeps_the_old_address(auth, user, outbox):
    change_email(auth, "alice.new@example.com")
    code = last_code(outbox, "email_change")

    response = confirm(auth, f"{(int(code) + 1) % 1_000_000:06d}")

    assert response.status_code == 422
    assert "4 tries left" in response.get_data(as_text=True)
    assert user.email == "alice@example.com"


def test_change_email_to_a_taken_address_sends_no_code_and_tells_its_owner(
    auth, user, make_user, outbox
):
    make_user(email="bob@example.com", username="bob")

    response = change_email(auth, "bob@example.com")

    assert response.status_code == 303  # the same answer as for a free address
    assert [(m["kind"], m["to"]) for m in outbox] == [("account_exists", ["bob@example.com"])]
    # A code exists all the same (never sent), so confirming reads exactly as for a free address.
    assert db.session.scalar(select(func.count()).select_from(OneTimeCode)) == 1
    response = confirm(auth, "123456")
    assert response.status_code == 422
    assert "That code is not right. 4 tries left." in response.get_data(as_text=True)
    assert user.email == "alice@example.com"


@pytest.mark.parametrize("email", ["", "nope", "alice@example.com", "x" * 10_000])
def test_change_email_to_an_invalid_address_is_refused(auth, user, outbox, email):
    response = change_email(auth, email)

    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert outbox == []


def test_email_change_can_be_cancelled(auth, user, outbox):
    change_email(auth, "alice.new@example.com")
    code = last_code(outbox, "email_change")

    post(auth, "/profile/email/cancel", {})

    assert user.pending_email is None
    assert confirm(auth, code).status_code == 422
    assert user.email == "alice@example.com"


def test_change_password_needs_the_current_password(auth, user, outbox):
    response = change_password(auth, current="not my password")

    assert response.status_code == 422
    assert "That is not your current password." in response.get_data(as_text=True)
    assert outbox == []


@pytest.mark.parametrize("new", ["", "password123", "alice-example!", PASSWORD, "x" * 10_000])
def test_change_password_applies_the_policy(auth, user, new):
    response = change_password(auth, new=new)

    assert response.status_code == 422
    assert 'id="new_password-error"' in response.get_data(as_text=True)


def test_change_password_ends_other_sessions_but_not_this_one(auth, new_browser, user, outbox):
    phone = new_browser()
    phone.sign_in()

    response = change_password(auth)

    assert response.status_code == 303
    assert auth.get("/profile").status_code == 200
    assert phone.get("/profile").status_code == 302
    assert [m["kind"] for m in outbox] == ["new_sign_in"]  # the phone's, minutes ago
    deliver_held_mail()  # notices within 10 minutes go out together
    assert kinds_sent(outbox) == ["new_sign_in", "password_changed"]
    auth.sign_out()
    auth.sign_in(password=STRONG_PASSWORD)


def test_delete_account_needs_the_password(auth, user):
    page = auth.get("/profile/delete")
    assert page.status_code == 200

    response = post(auth, "/profile/delete", {"password": "wrong"})

    assert response.status_code == 422
    assert "That is not your password." in response.get_data(as_text=True)
    assert db.session.get(User, user.id) is not None


def test_delete_account_signs_out_and_removes_it_with_its_sessions(auth, new_browser, user, outbox):
    phone = new_browser()
    phone.sign_in()
    user_id = user.id

    response = post(auth, "/profile/delete", {"password": PASSWORD})

    assert response.status_code == 303
    assert auth.get("/profile").status_code == 302
    assert phone.get("/profile").status_code == 302
    db.session.expunge_all()
    assert db.session.get(User, user_id) is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)
        )
        == 0
    )
    # The record of the deletion stays, detached from the gone account.
    event = db.session.scalar(select(SecurityEvent).where(SecurityEvent.kind == "account_deleted"))
    assert event.email == "alice@example.com" and event.user_id is None
    assert outbox[-1]["kind"] == "account_deleted"
    assert auth.post("/signin", {"login": "alice", "password": PASSWORD}).status_code == 422


# update_profile: the API's PATCH /users/me, rename and new email at once.


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_update_profile_names_every_bad_field(user):
    with pytest.raises(FlowError) as refused:
        profile.update_profile(user, None, Origin(), username="x", email="nope")

    assert refused.value.code == "validation_error"
    assert set(refused.value.errors) == {"username", "email"}
    assert user.username == "alice"


def test_update_profile_commits_rename_and_email_change_once(user):
    commits = []

    def committed(session):
        commits.append(session)

    session = db.session()
    event.listen(session, "after_commit", committed)
    try:
        profile.update_profile(
            user, None, Origin(), username="Alicia", email="alicia@example.org", password=PASSWORD
        )
    finally:
        event.remove(session, "after_commit", committed)

    assert len(commits) == 1
    db.session.expire_all()
    assert (user.username, user.pending_email) == ("alicia", "alicia@example.org")
    assert count(SecurityEvent, SecurityEvent.kind == "username_changed") == 1
    assert count(SecurityEvent, SecurityEvent.kind == "email_change_requested") == 1


def test_update_profile_undoes_the_email_change_when_the_username_is_taken_at_commit(
    user, make_user, monkeypatch
):
    make_user(email="bob@example.com", username="bob")
    queued = count(OutboxMessage)
    # Bob took the name between the check and the commit: the unique index refuses it.
    monkeypatch.setattr(profile, "username_taken", lambda username: False)

    with pytest.raises(FlowError) as refused:
        profile.update_profile(
            user, None, Origin(), username="bob", email="alice.new@example.com", password=PASSWORD
        )

    assert refused.value.code == "username_taken"
    db.session.expire_all()
    assert (user.username, user.pending_email) == ("alice", None)
    assert count(OneTimeCode, OneTimeCode.purpose == "email_change") == 0
    assert count(SecurityEvent, SecurityEvent.kind == "username_changed") == 0
    assert count(OutboxMessage) == queued


def test_change_email_page_over_the_hourly_codes_is_refused(auth, user, outbox):
    for n in range(5):
        assert change_email(auth, f"new{n}@example.com").status_code == 303

    response = change_email(auth, "new5@example.com", htmx=True)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Wait an hour" in response.get_data(as_text=True)
    assert user.pending_email == "new4@example.com"
    assert [m["to"] for m in outbox if m["kind"] == "email_change"][-1] == ["new4@example.com"]
