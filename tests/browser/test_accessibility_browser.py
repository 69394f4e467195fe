"""Accessibility in a real browser: axe-core (serious and critical fail) on every page, signed
out, signed in and as an admin, the API docs included, at 1280 and 390 px, light and dark,
and again after each HTMX swap; swaps announce themselves (status regions) and keep the
keyboard's place (focus). Reports and screenshots: test-output/browser/a11y/."""

import re
from datetime import timedelta

import pytest
from authenticator import totp_now
from browsing import (
    HtmlRecorder,
    check_every_view,
    focused,
    mail_code,
    mail_count,
    mail_link,
    make_account,
    new_page,
    sign_in,
    sync_api,
)
from sqlalchemy import update
from web_helpers import PHONE_UA, STRONG_PASSWORD

from portal import clock
from portal.extensions import db
from portal.models import User

expect = sync_api.expect


@pytest.fixture
def pages(chromium):
    """open(**options) -> a page in its own context (its own cookies: another device);
    every page must end the test without a script error."""
    opened = []

    def open_page(**options):
        # Less motion: colours that fade in (Swagger UI) are measured where they end.
        options.setdefault("reduced_motion", "reduce")
        page = new_page(chromium, **options)
        opened.append(page)
        return page

    yield open_page
    errors = [e for page in opened for e in page.script_errors]
    for page in opened:
        page.context.close()
    assert not errors, errors


@pytest.fixture
def recorder(served):
    """Every HTML page and fragment the served portal answers during the test."""
    app, _ = served
    return HtmlRecorder(app)


def with_virtual_authenticator(page) -> None:
    """A platform authenticator that verifies its user (CDP), as a laptop's; no passkey
    autofill request waiting on the sign-in page (headless Chromium stops dispatching clicks
    while one waits)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    page.add_init_script(
        "if (window.PublicKeyCredential) "
        "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);"
    )


def no_inline_styles(recorder) -> None:
    assert recorder.pages, "no HTML recorded"
    styled = [path for path, html in recorder.pages if re.search(r"\sstyle\s*=", html)]
    assert not styled, f"inline style= in {styled}"


def test_signed_out_pages_and_the_api_docs(served, pages, recorder):
    app, base = served
    page = pages()
    for name, path in [
        ("sign-up", "/signup"),
        ("sign-in", "/signin"),
        ("verify-without-sign-up", "/verify"),
        ("forgot-password", "/forgot-password"),
        ("reset-link-invalid", "/reset/not-a-real-token"),
        ("not-found", "/no-such-page"),
    ]:
        page.goto(base + path)
        check_every_view(page, name)

    # The vendored Swagger UI, as loaded and in the states people open.
    page.goto(base + "/api/v1/docs")
    page.wait_for_selector(".opblock")
    check_every_view(page, "api-docs")
    page.locator(".opblock-summary-control").first.click()
    page.wait_for_selector(".opblock-body")
    assert "#/" in page.url  # deep links still work without the links inside the buttons
    page.locator("#operations-sessions-list_sessions .opblock-summary-control").click()
    page.locator(".json-schema-2020-12-expand-deep-button").first.click()
    check_every_view(page, "api-docs-expanded")
    page.locator("#operations-sessions-list_sessions .try-out__btn").click()
    page.wait_for_selector("#operations-sessions-list_sessions .execute")
    check_every_view(page, "api-docs-try-it-out")
    page.locator(".btn.authorize").click()
    page.wait_for_selector(".modal-ux")
    check_every_view(page, "api-docs-authorize")
    no_inline_styles(recorder)


def test_sign_up_swaps_errors_in_with_focus_then_confirms(served, pages, recorder):
    app, base = served
    page = pages()
    page.goto(base + "/signup")
    page.fill("#username", "x")  # too short; the email is missing
    page.click("#sign-up-form button[type=submit]")
    page.wait_for_selector("#email[aria-invalid=true]")
    now = focused(page)
    assert now["id"] == "email", now  # the first field to fix has the keyboard
    assert now["describedby"] == "email-error"
    assert page.inner_text("#email-error")
    username = page.locator("#username")
    assert username.get_attribute("aria-invalid") == "true"
    assert username.get_attribute("aria-describedby") == "username-error username-hint"
    check_every_view(page, "sign-up-errors-swapped")

    page.fill("#email", "grace@example.com")
    page.fill("#username", "grace")
    page.fill("#password", STRONG_PASSWORD)
    page.click("#sign-up-form button[type=submit]")
    page.wait_for_url("**/verify")
    check_every_view(page, "verify")

    page.fill("#code", "000000")
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#code[aria-invalid=true]")
    assert focused(page)["id"] == "code"
    check_every_view(page, "verify-error-swapped")

    clock.advance(timedelta(seconds=61))  # the server sends at most one code a minute
    page.click("button:has-text('send a new code')")
    page.wait_for_selector("#resend-status p")
    assert page.get_attribute("#resend-status", "role") == "status"
    assert "a new code is on its way" in page.inner_text("#resend-status")
    check_every_view(page, "verify-resend-status")

    page.fill("#code", mail_code(app, after=1))
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/profile")
    check_every_view(page, "profile-new-account")
    no_inline_styles(recorder)


def test_resend_countdown_is_shown_each_second_and_announced_twice(served, pages):
    app, base = served
    page = pages()
    page.clock.install()
    page.goto(base + "/signup")
    page.fill("#email", "grace@example.com")
    page.fill("#username", "grace")
    page.fill("#password", STRONG_PASSWORD)
    page.click("#sign-up-form button[type=submit]")
    page.wait_for_url("**/verify")
    mail_code(app)
    # Every change screen readers would be told about: the live region's text, each time.
    page.evaluate(
        """() => {
          window.announced = [];
          const region = document.getElementById('resend-status');
          new MutationObserver(() => window.announced.push(region.innerText.trim()))
            .observe(region, {childList: true, subtree: true, characterData: true});
        }"""
    )
    page.click("button:has-text('send a new code')")
    page.wait_for_selector("#resend-status p")
    wait = page.locator("#resend-wait")
    assert wait.is_visible()
    assert "60 seconds" in wait.inner_text()
    assert wait.get_attribute("aria-live") is None and wait.get_attribute("role") is None
    button = page.locator("button:has-text('send a new code')")
    assert button.get_attribute("aria-disabled") == "true"
    assert button.get_attribute("aria-describedby") == "resend-wait"

    page.clock.run_for(30_000)
    assert "30 seconds" in wait.inner_text()
    sent = mail_count(app, "verify_email")
    button.press("Enter")  # resting: nothing is sent
    page.wait_for_timeout(300)
    assert mail_count(app, "verify_email") == sent
    check_every_view(page, "verify-resend-countdown")

    page.clock.run_for(31_000)
    expect(page.locator("#resend-status")).to_have_text("You can ask for a new code now.")
    assert not wait.is_visible()
    assert button.get_attribute("aria-disabled") is None
    announced = [text for text in page.evaluate("window.announced") if text]
    assert announced[0].startswith("If your sign-up is still waiting, a new code is on its way")
    assert announced[-1] == "You can ask for a new code now."
    assert len(set(announced)) == 2, announced  # not a word per second


def test_signed_in_pages_and_their_swaps(served, pages, recorder):
    app, base = served
    ada = make_account(app)
    page = pages()
    with_virtual_authenticator(page)
    sign_in(page, base)
    phone = pages(user_agent=PHONE_UA)
    sign_in(phone, base)

    for name, path in [
        ("profile", "/profile"),
        ("activity", "/activity"),
        ("delete-account", "/profile/delete"),
    ]:
        page.goto(base + path)
        check_every_view(page, name)

    # Sessions: ending one in place says so in the status region and keeps the keyboard's place.
    page.goto(base + "/sessions")
    check_every_view(page, "sessions")
    assert page.locator("#sessions tbody tr").count() == 2
    assert page.get_attribute("#sessions-status", "role") == "status"
    page.locator("#sessions tbody button:has-text('Sign out')").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sessions-status")).to_have_text(re.compile(r"^Signed out .+ on iOS\.$"))
    page.wait_for_function("() => document.querySelectorAll('#sessions tbody tr').length === 1")
    page.wait_for_function("() => document.activeElement.tagName === 'H1'")
    check_every_view(page, "sessions-one-ended")

    # Profile forms swapped in with errors, then a pending email change.
    page.goto(base + "/profile")
    page.fill("#email-section input[type=email]", "not-an-email")
    page.click("#email-section button[type=submit]")
    page.wait_for_selector("#email-section [aria-invalid=true]")
    assert focused(page)["invalid"] == "true"
    check_every_view(page, "profile-email-error-swapped")
    page.fill("#email-section input[type=email]", "ada.new@example.com")
    page.fill("#email-section input[type=password]", STRONG_PASSWORD)
    page.click("#email-section button[type=submit]")
    page.wait_for_selector("#confirm-section")
    check_every_view(page, "profile-email-pending")

    # Two-step sign-in: set-up, recovery codes, then the code step of the next sign-in.
    page.click("#confirm-section button:has-text('Cancel the change')")
    page.wait_for_url("**/profile")
    page.wait_for_selector("#confirm-section", state="detached")
    page.goto(base + "/profile")
    if page.locator("#reauth-password").count():  # the email change's password may count
        page.fill("#reauth-password", STRONG_PASSWORD)
        page.click("#reauth-section button[type=submit]")
    page.wait_for_selector("text=You confirmed it's you")
    check_every_view(page, "profile-confirmed")
    page.fill("#passkey-new-name", "Laptop")
    page.click("form[data-passkey-add] button[type=submit]")
    page.wait_for_selector("text=The passkey “Laptop” is added")
    check_every_view(page, "profile-with-passkey")
    page.click("text=Set up an authenticator app")
    page.wait_for_url("**/profile/totp/setup")
    check_every_view(page, "totp-setup")
    page.fill("#code", totp_now(page.get_attribute("#totp-secret", "data-secret")))
    page.click("button:has-text('Turn on two-step sign-in')")
    page.wait_for_selector("#recovery-codes")
    check_every_view(page, "recovery-codes")
    # What an admin sees of these second factors (ada made admin to look at her own).
    with app.app_context():
        db.session.execute(update(User).where(User.id == ada).values(is_admin=True))
        db.session.commit()
        db.session.remove()
    page.goto(f"{base}/admin/users/{ada}")
    page.wait_for_selector("#two-step form.stack")
    check_every_view(page, "admin-user-second-factors")
    page.goto(base + "/profile")
    page.click("header form button:has-text('Sign out')")
    page.wait_for_url("**/signin")
    clock.advance(timedelta(seconds=30))
    page.fill("#login", "ada")
    page.fill("#password", STRONG_PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_url("**/signin/code")
    check_every_view(page, "second-step")
    page.click("text=Use a recovery code")
    page.wait_for_url("**/signin/code?method=recovery")
    check_every_view(page, "second-step-recovery")
    no_inline_styles(recorder)


def test_password_reset_and_not_me_pages(served, pages, recorder):
    app, base = served
    make_account(app)
    page = pages()
    page.goto(base + "/forgot-password")
    page.fill("#email", "ada@example.com")
    page.click("#forgot-password button[type=submit]")
    page.wait_for_selector("#forgot-password [role=status]")
    # The button that had focus is gone: the keyboard lands on what replaced the form.
    assert focused(page)["id"] == "forgot-password"
    check_every_view(page, "forgot-password-sent-swapped")
    page.goto(mail_link(app, "reset_password"))
    check_every_view(page, "reset-password")
    page.fill("#password", "short")
    page.click("#reset-password-form button[type=submit]")
    page.wait_for_selector("#password[aria-invalid=true]")
    assert focused(page)["id"] == "password"
    check_every_view(page, "reset-password-error-swapped")

    # A sign-in from a second device emails a "wasn't me" link.
    sign_in(page, base)
    other = pages()
    sign_in(other, base)
    other.goto(mail_link(app, "new_sign_in"))
    check_every_view(other, "not-me")
    other.click("button:has-text('Sign everyone out')")
    other.wait_for_selector("h1:has-text('Account secured')")
    check_every_view(other, "not-me-done")
    no_inline_styles(recorder)


def test_admin_pages_and_their_swaps(served, pages, recorder):
    app, base = served
    make_account(app, "root@example.com", "root", is_admin=True)
    make_account(app, "bert@example.com", "bert")
    make_account(app, "berta@example.com", "berta")
    bert = pages()
    sign_in(bert, base, "bert")
    bert_phone = pages(user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile")
    sign_in(bert_phone, base, "bert")

    page = pages()
    sign_in(page, base, "root")
    page.goto(base + "/admin/")
    check_every_view(page, "admin-users")
    page.fill("#q", "ber")
    expect(page.locator("#search-status")).to_have_text("2 accounts shown.")
    assert page.get_attribute("#search-status", "role") == "status"
    assert focused(page)["id"] == "q"  # typing goes on where it was
    check_every_view(page, "admin-search-swapped")
    page.fill("#q", "nobody")
    expect(page.locator("#search-status")).to_contain_text("starts with “nobody”")
    check_every_view(page, "admin-search-nothing")

    page.goto(base + "/admin/?q=bert@")
    page.click("#users a")
    page.wait_for_url("**/admin/users/*")
    check_every_view(page, "admin-user")
    # Ending a session: a blank reason comes back marked, with the keyboard on it...
    first = page.locator("#user-sessions form.end-session").first
    first.locator("input[name=reason]").fill("   ")
    first.locator("button").press("Enter")
    page.wait_for_selector("#user-sessions input[aria-invalid=true]")
    now = focused(page)
    assert now["invalid"] == "true" and now["describedby"].endswith("-error"), now
    check_every_view(page, "admin-end-session-error-swapped")
    # ...and a reason ends it, said in the status region.
    page.locator("#user-sessions input[aria-invalid=true]").fill("lost phone")
    page.locator("#user-sessions form.has-error button").press("Enter")
    expect(page.locator("#sessions-status")).to_contain_text("Ended the session on")
    assert page.get_attribute("#sessions-status", "role") == "status"
    check_every_view(page, "admin-session-ended-swapped")
    page.click("a.button.danger:has-text('Delete account')")
    page.wait_for_url("**/delete")
    check_every_view(page, "admin-confirm-delete")

    page.goto(base + "/admin/events")
    check_every_view(page, "admin-events")
    page.select_option("#kind", "signed_in")
    page.wait_for_url("**/admin/events?kind=signed_in*")
    check_every_view(page, "admin-events-filtered")
    page.goto(base + "/admin/outbox")
    check_every_view(page, "admin-outbox")
    no_inline_styles(recorder)


def test_dark_mode_follows_the_device(served, pages):
    _, base = served
    page = pages(color_scheme="dark")
    page.goto(base + "/signin")
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(15, 20, 27)", background
    page.emulate_media(color_scheme="light")
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(246, 247, 249)", background
