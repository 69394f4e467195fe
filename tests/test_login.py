"""Sign-in, sign-out and sign out everywhere."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_helpers import PASSWORD, STRONG_PASSWORD, last_code, without_csrf

from portal import clock
from portal.extensions import db
from portal.flows import signin
from portal.models import User, UserSession

WRONG = "That email, username or password is not right."


def sessions_of(user) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def active_count(user) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.active_clause())
    )


@pytest.mark.parametrize(
    "login", ["alice@example.com", "ALICE@Example.COM", "alice", "Alice", "  alice  "]
)
def test_sign_in_by_email_or_username_any_case(browser, user, login):
    response = browser.post("/signin", {"login": login, "password": PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    assert browser.get("/profile").status_code == 200
    assert user.last_login_at is not None


def test_unknown_account_and_wrong_password_get_the_identical_answer(
    new_browser, user, monkeypatch
):
    burned = []
    original = signin.burn_password_check
    monkeypatch.setattr(signin, "burn_password_check", lambda pw: burned.append(pw) or original(pw))
    login = "someone@example.com"

    unknown = new_browser().post("/signin", {"login": login, "password": "whatever-123"})
    assert burned == ["whatever-123"]  # the unknown account cost a password hash too
    known = new_browser().post("/signin", {"login": "alice@example.com", "password": "nope"})

    assert unknown.status_code == known.status_code == 422
    assert WRONG in known.get_data(as_text=True)
    assert without_csrf(unknown.get_data(as_text=True)).replace(login, "alice@example.com") == (
        without_csrf(known.get_data(as_text=True))
    )
    assert sessions_of(user) == []


LOGIN_MISSING = "Enter your email or username."
PASSWORD_MISSING = "Enter your password."


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({}, [LOGIN_MISSING, PASSWORD_MISSING]),
        ({"login": "", "password": ""}, [LOGIN_MISSING, PASSWORD_MISSING]),
        ({"login": "alice"}, [PASSWORD_MISSING]),
        ({"password": PASSWORD}, [LOGIN_MISSING]),
        # A password past the longest allowed is no password (never hashed).
        ({"login": "x" * 10_000, "password": "y" * 10_000}, [PASSWORD_MISSING]),
        ({"login": "ünïcødé", "password": "ünïcødé"}, [WRONG]),
    ],
)
def test_bad_input_gets_a_message_not_a_500(browser, user, data, messages):
    response = browser.post("/signin", data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    next_to_fields = re.findall(r'class="error"[^>]*>([^<]+)<', html)
    above_the_form = re.findall(r'role="alert"><p>([^<]+)</p>', html)
    assert [m.strip() for m in next_to_fields + above_the_form] == messages


def test_a_pending_sign_up_gets_a_fresh_code_after_the_right_password(browser, new_browser, outbox):
    """Signing in with the password of a sign-up not confirmed yet: the confirm step, with a
    fresh code for that sign-up, bound to this browser."""
    new_browser().sign_up(email="carol@example.com", username="carol", password=STRONG_PASSWORD)
    clock.advance(timedelta(minutes=2))

    response = browser.post("/signin", {"login": "carol", "password": STRONG_PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"] == "/verify"
    assert [(m["kind"], m["to"]) for m in outbox] == [("verify_email", ["carol@example.com"])] * 2
    page = browser.get("/verify").get_data(as_text=True)
    assert "Confirm your email address first" in page
    assert "carol@example.com" in page
    assert (
        browser.post("/verify", {"code": last_code(outbox)}, form_page="/verify").status_code == 303
    )
    assert browser.get("/profile").status_code == 200


def test_a_pending_sign_up_with_a_wrong_password_gets_the_generic_error(
    browser, new_browser, outbox
):
    new_browser().sign_up(email="carol@example.com", username="carol", password=STRONG_PASSWORD)
    outbox.clear()

    response = browser.post("/signin", {"login": "carol", "password": "wrong password"})

    assert response.status_code == 422
    assert WRONG in response.get_data(as_text=True)
    assert outbox == []


def test_disabled_account_is_told_after_the_right_password(browser, make_user):
    make_user(email="dave@example.com", username="dave", active=False)

    right = browser.post("/signin", {"login": "dave", "password": PASSWORD})
    wrong = browser.post("/signin", {"login": "dave", "password": "not it at all"})

    assert right.status_code == 422
    assert "This account has been disabled" in right.get_data(as_text=True)
    assert "disabled" not in wrong.get_data(as_text=True)


def test_every_sign_in_starts_a_new_session_and_a_new_cookie(browser, user):
    """No session fixation: what a browser carried before signing in is dropped."""
    browser.get("/signin")
    with browser.client.session_transaction() as session:
        session["planted"] = "by an attacker"
    before = browser.cookie()

    browser.sign_in()
    first = browser.cookie()
    with browser.client.session_transaction() as session:
        assert "planted" not in session
        first_id = session["_user_id"]
    browser.sign_out()
    browser.sign_in()
    with browser.client.session_transaction() as session:
        second_id = session["_user_id"]

    assert before != first != browser.cookie()
    assert first_id != second_id
    assert {str(s.id) for s in sessions_of(user)} == {first_id, second_id}
    assert active_count(user) == 1


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "http://evil.com/profile",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "evil.com",
        "///evil.com",
        " //evil.com",
        "/\t/evil.com",
        "https:/evil.com",
    ],
)
def test_next_never_leaves_the_site(browser, user, target):
    response = browser.post(
        f"/signin?next={target}", {"login": "alice", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"


def test_next_on_the_site_is_followed(browser, user):
    page = browser.get("/sessions")  # anonymous: sent to sign in, with next
    assert page.status_code == 302
    login_url = page.headers["Location"]
    assert login_url.startswith("/signin?next=")

    form = browser.get(login_url).get_data(as_text=True)
    next_value = re.search(r'name="next" type="hidden" value="([^"]*)"', form)
    next_value = next_value or re.search(r'name="next" value="([^"]*)"', form)
    response = browser.post(
        "/signin", {"login": "alice", "password": PASSWORD, "next": next_value.group(1)}
    )

    assert response.headers["Location"] == "/sessions"


def test_sign_out_is_post_only(auth):
    assert auth.get("/signout").status_code == 405
    assert auth.get("/profile").status_code == 200


def test_sign_out_ends_the_session_server_side(auth, user):
    cookie = auth.cookie()

    response = auth.sign_out()

    assert response.status_code == 303
    assert response.headers["Location"] == "/signin"
    [session] = sessions_of(user)
    assert session.revoked_at is not None
    assert session.revoked_reason == "Signed out"
    # The cookie from before the sign-out, replayed, is signed out too.
    auth.client.set_cookie("portal", cookie)
    replayed = auth.get("/profile")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/signin")


def test_sign_out_everywhere_ends_every_session(auth, new_browser, user):
    phone = new_browser()
    phone.sign_in()
    assert active_count(user) == 2

    response = auth.post("/signout/everywhere", form_page="/profile")

    assert response.status_code == 303
    assert active_count(user) == 0
    assert auth.get("/profile").status_code == 302
    assert phone.get("/profile").status_code == 302


def test_signed_in_people_skip_the_sign_in_page(auth):
    assert auth.get("/signin").headers["Location"] == "/profile"


def test_the_loader_ignores_a_cookie_with_a_garbage_session_id(browser, user):
    browser.get("/signin")
    with browser.client.session_transaction() as session:
        session["_user_id"] = "not-a-uuid"
        session["_fresh"] = True

    assert browser.get("/profile").status_code == 302


def test_an_expired_session_is_signed_out(auth, user):
    from datetime import timedelta

    from portal import clock

    clock.advance(timedelta(days=15))

    assert auth.get("/profile").status_code == 302


def test_sign_in_records_who_and_where(browser, user):
    browser.sign_in()

    [session] = sessions_of(user)
    assert session.device_label == "Firefox on Linux"
    assert session.ip_address == "127.0.0.1"
    assert db.session.get(User, user.id).last_login_at is not None
