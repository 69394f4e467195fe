"""Shared pieces of the browser tests (accessibility, keyboard, passkeys): Debian's Chromium
driven by Playwright, axe-core run on the page as it is (reports kept beside the screenshots under
test-output/browser/a11y/, or $BROWSER_SCREENSHOTS/a11y), keyboard helpers, accounts."""

import glob
import json
import os
import re
import time
import uuid

import pytest
from web_helpers import STRONG_PASSWORD, code_in

from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed (pip install -e '.[dev]')",
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
OUTPUT = os.path.join(
    os.environ.get("BROWSER_SCREENSHOTS")
    or os.path.join(os.path.dirname(__file__), "..", "..", "test-output", "browser"),
    "a11y",
)
TIMEOUT_MS = 15_000
WIDTHS = {"desktop": 1280, "phone": 390}
BLOCKING = ("serious", "critical")

_axe = None


def axe():
    """axe-core, loaded by the first check (the keyboard and passkey tests need none)."""
    global _axe
    if _axe is None:
        axe_playwright = pytest.importorskip(
            "axe_playwright_python.sync_playwright",
            reason="axe-playwright-python is not installed (pip install -e '.[dev]')",
        )
        _axe = axe_playwright.Axe()
    return _axe


def new_page(browser, width: int = 1280, color_scheme: str = "light", **context_options):
    """A page in a fresh context (its own cookies), failing its test on any script error."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=color_scheme, **context_options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    return page


def check_axe(page, name: str) -> dict:
    """Run axe-core on the page as it is now; keep its report (JSON) and a screenshot under
    OUTPUT/<name>.*; fail on any serious or critical violation."""
    os.makedirs(OUTPUT, exist_ok=True)
    results = axe().run(page, options={"resultTypes": ["violations"]}).response
    report = {
        "url": page.url,
        "viewport": page.viewport_size,
        "color_scheme": page.evaluate(
            "matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'"
        ),
        "axe": results["testEngine"]["version"],
        "violations": results["violations"],
    }
    with open(os.path.join(OUTPUT, f"{name}.axe.json"), "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
    page.screenshot(path=os.path.join(OUTPUT, f"{name}.png"), full_page=True)
    blocking = [v for v in results["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{name} ({page.url}):\n" + describe(blocking)
    return report


def describe(violations: list) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['failureSummary']}")
    return "\n".join(lines)


def make_account(app, email="ada@example.com", username="ada", **fields) -> uuid.UUID:
    with app.app_context():
        user = User(
            id=uuid.uuid4(),
            email=email,
            username=username,
            password_hash=hash_password(STRONG_PASSWORD),
            is_verified=True,
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        user_id = user.id
        db.session.remove()
    return user_id


def mail_code(app, kind="verify_email", after: int = 0) -> str:
    """The 6-digit code of the newest email of `kind`, once more than `after` such emails exist
    (delivered just after the response)."""
    return code_in(mail_text(app, kind, after))


def mail_link(app, kind: str, after: int = 0) -> str:
    return re.search(r"https?://\S+", mail_text(app, kind, after)).group(0)


def mail_count(app, kind: str) -> int:
    return len(glob.glob(os.path.join(app.config["MAIL_FILE_DIR"], f"*-{kind}-*.json")))


def mail_text(app, kind: str, after: int = 0) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        files = sorted(glob.glob(os.path.join(app.config["MAIL_FILE_DIR"], f"*-{kind}-*.json")))
        if len(files) > after:
            with open(files[-1], encoding="utf-8") as fh:
                return json.load(fh)["text"]
        time.sleep(0.1)
    raise AssertionError(f"no {kind} email")


def sign_in(page, base, login="ada", password=STRONG_PASSWORD, *, then="**/profile") -> None:
    """Sign in with the password and wait for the page it leads to (`then`)."""
    page.goto(base + "/signin")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_url(then)


def focused(page) -> dict:
    """What has the keyboard focus: tag, id, text, name, and whether a ring shows."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
          const shadow = style.boxShadow && style.boxShadow !== 'none';
          return {
            tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'),
            text: (el.innerText || el.value || '').trim(), type: el.getAttribute('type'),
            ring: Boolean(outline || shadow), outline: style.outline, shadow: style.boxShadow,
            invalid: el.getAttribute('aria-invalid'),
            describedby: el.getAttribute('aria-describedby'),
            row: el.closest('tr') ? el.closest('tr').id : null,
            inMain: Boolean(el.closest('main')), inHeader: Boolean(el.closest('header')),
            outlineColor: style.outlineColor,
          };
        }"""
    )


def tab_to(page, matches, limit: int = 60, key: str = "Tab") -> dict:
    """Press Tab until the focused element satisfies `matches(info)`; every element passed on
    the way must show a focus ring."""
    for _ in range(limit):
        page.keyboard.press(key)
        info = focused(page)
        if info["tag"] != "body":
            assert info["ring"], f"no visible focus ring on {info}"
        if matches(info):
            return info
    raise AssertionError(f"pressed {key} {limit} times without reaching the element")


def check_every_view(page, name: str) -> None:
    """axe on the page as it stands, at each width and in light and dark, without reloading
    (so one-time pages and swapped-in states are checked as they are)."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            check_axe(page, f"{name}-{label}-{scheme}")
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    page.emulate_media(color_scheme="light")


class HtmlRecorder:
    """Wraps a served app: keeps (path, text) of every HTML page and fragment it answers, so
    a test can check the markup people were sent (not what scripts made of it)."""

    def __init__(self, app):
        self.pages: list[tuple[str, str]] = []
        self.inner = app.wsgi_app
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        kind = {}

        def start(status, headers, exc_info=None):
            kind["type"] = dict((k.lower(), v) for k, v in headers).get("content-type", "")
            return start_response(status, headers, exc_info)

        result = self.inner(environ, start)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if kind.get("type", "").startswith("text/html"):
            self.pages.append((environ.get("PATH_INFO", ""), body.decode("utf-8", "replace")))
        return [body]
