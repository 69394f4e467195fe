"""Admin fixtures: an admin, a member and anonymous browsers, each with its own cookies.

They are built on `new_browser` (a fresh test client each), never on the shared `client`."""

import pytest
from web_helpers import FIREFOX_UA, PASSWORD


@pytest.fixture
def admin_user(make_user):
    return make_user(email="root@example.com", username="root", admin=True)


@pytest.fixture
def admin(new_browser, admin_user):
    """A browser (Firefox on Linux) signed in as the admin."""
    browser = new_browser(FIREFOX_UA)
    browser.sign_in("root@example.com", PASSWORD)
    return browser


@pytest.fixture
def member(new_browser, user):
    """A browser signed in as alice, who is not an admin."""
    browser = new_browser(FIREFOX_UA)
    browser.sign_in("alice@example.com", PASSWORD)
    return browser


@pytest.fixture
def anon(new_browser):
    return new_browser(FIREFOX_UA)
