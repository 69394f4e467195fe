"""Click through the portal in headless Chromium as a new user would, saving screenshots.

Not part of `make test` (it needs Debian's chromium and the `playwright` package):

    apt-get install -y --no-install-recommends chromium fonts-liberation
    pip install playwright
    MAIL_BACKEND=file MAIL_FILE_DIR=/tmp/portal-mail make run        # in one terminal
    BASE=http://127.0.0.1:5000 MAIL=/tmp/portal-mail python scripts/browser_walkthrough.py

Screenshots land in ./screenshots/.
"""

import glob
import json
import os
import re
import time

from playwright.sync_api import expect, sync_playwright

BASE = os.environ.get("BASE", "http://127.0.0.1:5000")
MAIL = os.environ.get("MAIL", "instance/mail")
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def last_mail(kind):
    files = sorted(glob.glob(f"{MAIL}/*-{kind}-*.json"))
    return json.load(open(files[-1]))


os.makedirs("screenshots", exist_ok=True)
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    ctx = b.new_context(viewport={"width": 1100, "height": 800})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(BASE + "/signup")
    page.screenshot(path="screenshots/01-signup.png", full_page=True)
    # bad input first
    page.fill("#email", "not-an-email")
    page.fill("#username", "x")
    page.fill("#password", "password")
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    page.screenshot(path="screenshots/02-signup-errors.png", full_page=True)
    stamp = str(int(time.time()))
    page.fill("#email", f"walker{stamp}@example.com")
    page.fill("#username", f"walker{stamp}")
    page.fill("#password", "purple monkey dishwasher 42")
    page.click("button[type=submit]")
    page.wait_for_url("**/verify")
    page.screenshot(path="screenshots/03-verify.png", full_page=True)
    page.fill("#code", "000000")
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector(".error")
    page.screenshot(path="screenshots/04-verify-wrong.png", full_page=True)
    code = re.search(r"\b(\d{6})\b", last_mail("verify_email")["text"]).group(1)
    page.fill("#code", code)
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/profile")
    page.screenshot(path="screenshots/05-profile.png", full_page=True)
    # second device
    ctx2 = b.new_context(
        user_agent=IPHONE,
        viewport={"width": 390, "height": 800},
    )
    p2 = ctx2.new_page()
    p2.goto(BASE + "/signin")
    p2.fill("#login", f"walker{stamp}")
    p2.fill("#password", "purple monkey dishwasher 42")
    p2.click("button[type=submit]")
    p2.wait_for_url("**/profile")
    p2.goto(BASE + "/sessions")
    p2.screenshot(path="screenshots/06-sessions-mobile.png", full_page=True)
    page.goto(BASE + "/sessions")
    page.screenshot(path="screenshots/07-sessions.png", full_page=True)
    rows_before = page.locator("tbody tr").count()
    page.locator("tbody tr button", has_text="Sign out").first.click()

    expect(page.locator("tbody tr")).to_have_count(rows_before - 1)
    print("url after end (no reload expected):", page.url)
    page.screenshot(path="screenshots/08-sessions-after-end.png", full_page=True)
    p2.goto(BASE + "/profile")
    print("second device after end:", p2.url)
    # username change with error via htmx
    page.goto(BASE + "/profile")
    page.fill("#username", "ab")
    page.click("#username-section button")
    page.wait_for_selector("#username-section .error")
    page.screenshot(path="screenshots/09-profile-error.png", full_page=True)
    # the second device was announced: the "this wasn't me" page asks before doing anything
    time.sleep(0.5)
    not_me = re.search(r"(http\S+/not-me/\S+)", last_mail("new_sign_in")["text"]).group(1)
    p3 = ctx2.new_page()
    p3.goto(not_me.replace("http://127.0.0.1:5000", BASE))
    p3.screenshot(path="screenshots/09b-not-me.png", full_page=True)
    # email change needs the password
    page.goto(BASE + "/profile")
    page.fill("#email", f"walker{stamp}@example.org")
    page.click("#email-section button")
    page.wait_for_selector("#email-section .error")
    page.screenshot(path="screenshots/09c-email-needs-password.png", full_page=True)
    # sign out and forgot password
    page.click("text=Sign out")
    page.wait_for_url("**/signin")
    page.goto(BASE + "/forgot-password")
    page.fill("#email", f"walker{stamp}@example.com")
    page.click("button[type=submit]")
    page.wait_for_selector("text=has an account")
    page.screenshot(path="screenshots/10-forgot-sent.png", full_page=True)
    time.sleep(0.5)
    link = re.search(r"(http\S+/reset/\S+)", last_mail("reset_password")["text"]).group(1)
    page.goto(link.replace("http://127.0.0.1:5000", BASE))
    page.screenshot(path="screenshots/11-reset.png", full_page=True)
    page.fill("#password", "a much better passphrase 77")
    page.click("button[type=submit]")
    page.wait_for_url("**/signin")
    page.screenshot(path="screenshots/12-after-reset.png", full_page=True)
    print("console errors:", errors)
    b.close()
