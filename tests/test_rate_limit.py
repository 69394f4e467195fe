"""Per-IP limits on the doors attackers knock on (enabled in this module only)."""

import pytest


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True}


def test_sign_in_is_limited_with_retry_after(browser, user):
    answers = [
        browser.post("/signin", {"login": "alice", "password": f"guess {n}"}).status_code
        for n in range(10)
    ]
    assert answers == [422] * 10

    response = browser.post("/signin", {"login": "alice", "password": "guess 11"})

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Too many attempts" in response.get_data(as_text=True)


def test_the_limit_is_per_address(browser, new_browser, user):
    for n in range(11):
        browser.post("/signin", {"login": "alice", "password": f"guess {n}"})
    elsewhere = new_browser()
    elsewhere.client.environ_base["REMOTE_ADDR"] = "198.51.100.20"

    assert elsewhere.post("/signin", {"login": "alice", "password": "x"}).status_code == 422


def test_pages_are_not_limited(browser):
    assert all(browser.get("/signin").status_code == 200 for _ in range(15))
