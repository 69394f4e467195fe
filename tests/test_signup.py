"""Sign-up: a pending sign-up, a 6-digit code by email, and never a hint of who exists."""

import re

import pytest
from sqlalchemy import func, select
from web_helpers import STRONG_PASSWORD, last_code, without_csrf

from portal.extensions import db
from portal.models import PendingSignUp, User

LONG = "x" * 10_000


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def test_sign_up_emails_a_code_and_leads_to_verify(browser, outbox):
    response = browser.sign_up(email="Bob@Example.com", username="Bob")

    assert response.status_code == 303
    assert response.headers["Location"] == "/verify"
    assert count_users() == 0  # not an account until the code confirms it
    pending = db.session.scalar(
        select(PendingSignUp).where(PendingSignUp.email == "bob@example.com")
    )
    assert pending.username == "bob"
    assert pending.password_hash.startswith("$argon2id$")
    [message] = outbox
    assert message["kind"] == "verify_email"
    assert message["to"] == ["bob@example.com"]
    assert re.fullmatch(r"\d{6}", last_code(outbox))
    page = browser.get("/verify").get_data(as_text=True)
    assert "We sent a 6-digit code to bob@example.com" in page


def test_second_sign_up_with_same_email_answers_the_same_and_tells_the_owner(
    new_browser, user, outbox
):
    first, second = new_browser(), new_browser()
    fresh = first.sign_up(email="bob@example.com", username="bob")
    taken = second.sign_up(email="ALICE@example.com", username="bob2")

    assert (taken.status_code, taken.headers["Location"]) == (
        fresh.status_code,
        fresh.headers["Location"],
    )
    fresh_page = first.get("/verify").get_data(as_text=True)
    taken_page = second.get("/verify").get_data(as_text=True)
    assert without_csrf(taken_page.replace("alice@example.com", "bob@example.com")) == (
        without_csrf(fresh_page)
    )
    assert [(m["kind"], m["to"]) for m in outbox] == [
        ("verify_email", ["bob@example.com"]),
        ("account_exists", ["alice@example.com"]),
    ]
    assert db.session.scalar(select(func.count()).where(User.username == "bob2")) == 0


def test_taken_username_is_told_next_to_the_field(browser, user, outbox):
    response = browser.sign_up(email="bob@example.com", username="ALICE")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="username-error">That username is taken', html)
    assert outbox == []
    assert count_users() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"email": "", "username": "bob", "password": STRONG_PASSWORD},
            "email",
            "Enter your email",
        ),
        ({"username": "bob", "password": STRONG_PASSWORD}, "email", "Enter your email"),
        (
            {"email": "not-an-email", "username": "bob", "password": STRONG_PASSWORD},
            "email",
            "Enter a valid email",
        ),
        (
            {"email": "bob@", "username": "bob", "password": STRONG_PASSWORD},
            "email",
            "Enter a valid email",
        ),
        (
            {"email": LONG + "@example.com", "username": "bob", "password": STRONG_PASSWORD},
            "email",
            "too long",
        ),
        (
            {"email": "bob@example.com", "username": "", "password": STRONG_PASSWORD},
            "username",
            "Choose a username",
        ),
        (
            {"email": "bob@example.com", "password": STRONG_PASSWORD},
            "username",
            "Choose a username",
        ),
        (
            {"email": "bob@example.com", "username": "bo", "password": STRONG_PASSWORD},
            "username",
            "3 to 32",
        ),
        (
            {"email": "bob@example.com", "username": LONG, "password": STRONG_PASSWORD},
            "username",
            "3 to 32",
        ),
        (
            {"email": "bob@example.com", "username": "ünïcødé", "password": STRONG_PASSWORD},
            "username",
            "Use only letters a-z",
        ),
        (
            {"email": "bob@example.com", "username": "bob smith", "password": STRONG_PASSWORD},
            "username",
            "Use only letters a-z",
        ),
        (
            {"email": "bob@example.com", "username": "bob", "password": ""},
            "password",
            "Choose a password",
        ),
        ({"email": "bob@example.com", "username": "bob"}, "password", "Choose a password"),
        (
            {"email": "bob@example.com", "username": "bob", "password": "short"},
            "password",
            "at least 8",
        ),
        (
            {"email": "bob@example.com", "username": "bob", "password": LONG},
            "password",
            "at most 128",
        ),
    ],
)
def test_bad_input_is_told_next_to_its_field(browser, outbox, data, field, message):
    response = browser.post("/signup", data, form_page="/signup")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert error, html
    assert message in error.group(1)
    assert count_users() == 0
    assert outbox == []


def test_every_field_at_10000_characters_is_refused_without_a_500(browser):
    response = browser.post(
        "/signup", {"email": LONG, "username": LONG, "password": LONG}, form_page="/signup"
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field in ("email", "username", "password"):
        assert f'id="{field}-error"' in html
    # The refused values are not echoed back at full length.
    assert LONG not in html.replace(f'value="{LONG}"', "")


@pytest.mark.parametrize(
    "password",
    ["password", "password123", "12345678", "qwertyuiop", "iloveyou1", "aaaaaaaaaaaa", "abcdefgh1"],
)
def test_common_and_simple_passwords_are_refused_with_advice(browser, password):
    response = browser.sign_up(password=password)

    assert response.status_code == 422
    error = re.search(r'id="password-error">([^<]*)<', response.get_data(as_text=True)).group(1)
    assert "passphrase" in error  # tells the person what to do instead
    assert count_users() == 0


@pytest.mark.parametrize("password", ["bob@example.com!2024", "xX-bob-velvet-Xx", "BOBexample99"])
def test_passwords_built_from_email_or_username_are_refused(browser, password):
    response = browser.sign_up(email="bob@example.com", username="bob", password=password)

    assert response.status_code == 422
    assert "from your email address or username" in response.get_data(as_text=True)


def test_unicode_passwords_are_accepted(browser, outbox):
    response = browser.sign_up(password="Grüße aus Zürich, ☃ und 北京 1987")

    assert response.status_code == 303
    assert outbox[0]["kind"] == "verify_email"


def test_passwords_longer_than_zxcvbn_takes_are_judged_not_crashed(browser, outbox):
    """zxcvbn refuses over 72 characters; the policy allows 128."""
    weak = browser.sign_up(password="a" * 100)
    assert weak.status_code == 422
    strong = browser.sign_up(password="plum velvet orbit canyon " * 5)
    assert strong.status_code == 303


def test_htmx_sign_up_with_errors_answers_the_form_fragment_with_422(browser):
    response = browser.sign_up(email="nope", htmx=True)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith("<form")
    assert 'id="sign-up-form"' in html
    assert 'id="email-error"' in html
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_sign_up_success_answers_hx_redirect(browser, outbox):
    response = browser.sign_up(htmx=True)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/verify"
    assert len(outbox) == 1


def test_signed_in_people_are_sent_to_their_profile(auth):
    response = auth.get("/signup")

    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
