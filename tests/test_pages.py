"""Every page is well-formed enough for assistive tech and for tests: unique element ids, and
every label points at a field that exists."""

from collections import Counter
from html.parser import HTMLParser

import pytest


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.label_targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.label_targets.append(attrs["for"])


def check(html: str) -> None:
    parser = _Ids()
    parser.feed(html)
    duplicates = [i for i, n in Counter(parser.ids).items() if n > 1]
    assert duplicates == []
    assert set(parser.label_targets) <= set(parser.ids)


@pytest.mark.parametrize("path", ["/signup", "/signin", "/verify", "/forgot-password"])
def test_entrance_pages(browser, path):
    check(browser.get(path).get_data(as_text=True))


@pytest.mark.parametrize("path", ["/profile", "/sessions", "/activity", "/profile/delete"])
def test_signed_in_pages(auth, new_browser, path):
    new_browser().sign_in()  # a second session, so the sessions page has a row to end
    auth.post("/profile/email", {"email": "new@example.com"}, form_page="/profile")
    check(auth.get(path).get_data(as_text=True))


def test_admin_pages(make_user, new_browser, user):
    make_user(email="root@example.com", username="root", admin=True)
    admin = new_browser()
    admin.sign_in("root@example.com")
    new_browser().sign_in()
    for path in ["/admin/", "/admin/events", f"/admin/users/{user.id}"]:
        response = admin.get(path)
        assert response.status_code == 200
        check(response.get_data(as_text=True))


def test_verify_page_after_sign_up(browser, outbox):
    browser.sign_up()
    page = browser.get("/verify").get_data(as_text=True)
    assert "bob@example.com" in page
    check(page)
