"""htmx keeps no snapshot of signed-in pages in the browser's storage: a copy would outlive
sign-out and show the next person at that browser the account (README "Rules worth knowing")."""

import html
import json
import re

import pytest
from web_helpers import PASSWORD

SIGNED_IN_PAGES = ["/profile", "/sessions", "/activity", "/admin/", "/admin/events"]


def _htmx_config(page: str) -> dict:
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)
    assert match, "no htmx-config on the page"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def admin(browser, make_user):
    make_user(email="root@example.com", username="root", admin=True)
    browser.sign_in("root@example.com", PASSWORD)
    return browser


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_signed_in_pages_turn_the_history_cache_off(admin, path):
    response = admin.get(path)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert _htmx_config(page)["historyCacheSize"] == 0
    assert 'hx-history="true"' not in page


def test_the_page_after_sign_out_keeps_it_off_too(auth):
    """Its first history save clears whatever an older page left in storage."""
    auth.sign_out()

    assert _htmx_config(auth.get("/signin").get_data(as_text=True))["historyCacheSize"] == 0


def test_the_rest_of_the_htmx_config_is_kept(auth):
    config = _htmx_config(auth.get("/profile").get_data(as_text=True))

    assert {"code": "422", "swap": True, "error": False} in config["responseHandling"]
