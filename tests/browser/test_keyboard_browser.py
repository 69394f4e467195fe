"""The keyboard alone (Tab, Shift+Tab, Enter, Space, typing) signs up, confirms the email, ends
another session and signs out, with a visible focus ring on every stop; the skip link takes
focus past the navigation."""

import re

import pytest
from browsing import (
    OUTPUT,
    focused,
    mail_code,
    new_page,
    sign_in,
    sync_api,
    tab_to,
)
from web_helpers import PHONE_UA, STRONG_PASSWORD

expect = sync_api.expect


@pytest.fixture
def page(chromium):
    page = new_page(chromium)
    yield page
    page.context.close()
    assert not page.script_errors, page.script_errors


def shoot(page, name: str) -> None:
    page.screenshot(path=f"{OUTPUT}/keyboard-{name}.png")


def test_skip_link_moves_focus_to_the_content(served, page):
    _, base = served
    page.goto(base + "/signin")
    page.keyboard.press("Tab")
    skip = focused(page)
    assert skip["text"] == "Skip to content" and skip["ring"], skip
    assert page.locator(".skip-link").bounding_box()["x"] >= 0  # shown while focused
    shoot(page, "skip-link")
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    page.keyboard.press("Tab")
    after = focused(page)
    assert after["inMain"] and after["id"] == "login", after  # past the header's links


def test_focus_ring_in_both_colour_schemes(served, page):
    _, base = served
    rings = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(base + "/signin")
        rings[scheme] = tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Portal")
    assert rings["light"]["outlineColor"] != rings["dark"]["outlineColor"]


def test_sign_up_confirm_end_a_session_and_sign_out_by_keyboard(served, page, chromium):
    app, base = served
    keyboard = page.keyboard
    page.goto(base + "/signup")
    tab_to(page, lambda f: f["id"] == "email")
    keyboard.type("grace@example.com")
    tab_to(page, lambda f: f["id"] == "username")
    keyboard.type("grace")
    tab_to(page, lambda f: f["id"] == "password")
    keyboard.type(STRONG_PASSWORD)
    button = tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Create account")
    shoot(page, "1-sign-up")
    assert button["ring"]
    keyboard.press("Space")
    page.wait_for_url("**/verify")

    tab_to(page, lambda f: f["id"] == "code")
    keyboard.type(mail_code(app))
    shoot(page, "2-code")
    keyboard.press("Enter")
    page.wait_for_url("**/profile")

    # Another device of the same account (signed in there the usual way).
    phone = new_page(chromium, user_agent=PHONE_UA)
    try:
        sign_in(phone, base, "grace")
    finally:
        phone.context.close()

    tab_to(page, lambda f: f["tag"] == "a" and f["text"] == "Sessions")
    keyboard.press("Enter")
    page.wait_for_url("**/sessions")
    end = tab_to(page, lambda f: f["text"] == "Sign out" and bool(f["row"]))
    shoot(page, "3-end-session")
    keyboard.press("Space")
    expect(page.locator("#sessions-status")).to_have_text(re.compile(r"^Signed out .+ on iOS\.$"))
    page.wait_for_selector(f"#{end['row']}", state="detached")
    assert focused(page)["tag"] == "h1"  # the keyboard stays on this page, at its heading
    shoot(page, "4-session-ended")

    out = tab_to(page, lambda f: f["text"] == "Sign out" and f["inHeader"], key="Shift+Tab")
    assert out["ring"]
    keyboard.press("Enter")
    page.wait_for_url("**/signin")
    assert "signed out" in page.inner_text("main").lower()


def test_without_javascript_the_same_steps_work(served, chromium):
    """The swaps are enhancements: with scripts off, every form posts and the page reloads."""
    app, base = served
    page = new_page(chromium, java_script_enabled=False)
    try:
        page.goto(base + "/signup")
        page.fill("#username", "x")
        page.click("#sign-up-form button[type=submit]")
        assert page.get_attribute("#email", "aria-invalid") == "true"
        page.fill("#email", "grace@example.com")
        page.fill("#username", "grace")
        page.fill("#password", STRONG_PASSWORD)
        page.click("#sign-up-form button[type=submit]")
        page.wait_for_url("**/verify")
        code = mail_code(app)
        page.click("button:has-text('send a new code')")
        page.wait_for_url("**/verify")
        assert "a new code is on its way" in page.inner_text(".flashes")
        page.fill("#code", code)  # within the minute no new code is sent: this one works
        page.click("#verify-form button[type=submit]")
        page.wait_for_url("**/profile")

        phone = new_page(chromium, user_agent=PHONE_UA)
        try:
            sign_in(phone, base, "grace")
        finally:
            phone.context.close()
        page.goto(base + "/sessions")
        page.click("#sessions tbody button:has-text('Sign out')")
        page.wait_for_url("**/sessions")
        assert re.search(r"Signed out .+ on iOS\.", page.inner_text(".flashes"))
        assert page.locator("#sessions tbody tr").count() == 1
        page.click("header button:has-text('Sign out')")
        page.wait_for_url("**/signin")
    finally:
        page.context.close()
