"""Per-IP limits on the doors attackers knock on (enabled in this module only), each test
run twice: counted in memory (development) and in Redis (production, shared by workers)."""

import pytest
from web_helpers import PASSWORD, Browser


@pytest.fixture
def app_config(limiter_storage):
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": limiter_storage}


def test_sign_in_is_limited_with_retry_after(browser, user):
    answers = [
        browser.post("/signin", {"login": f"someone{n}", "password": "guess"}).status_code
        for n in range(10)
    ]
    assert answers == [422] * 10

    response = browser.post("/signin", {"login": "alice", "password": "guess 11"})

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "Too many attempts" in response.get_data(as_text=True)


def test_the_limit_is_per_address(browser, new_browser, user):
    for n in range(11):
        browser.post("/signin", {"login": f"someone{n}", "password": "guess"})
    elsewhere = new_browser()
    elsewhere.client.environ_base["REMOTE_ADDR"] = "198.51.100.20"

    assert elsewhere.post("/signin", {"login": "alice", "password": "x"}).status_code == 422


def test_a_page_limit_comes_from_config(make_app, limiter_storage):
    """WEB_SIGNIN_RATE_LIMIT replaces the default (10 a minute), as API_AUTH_RATE_LIMIT does
    for the API."""
    browser = Browser(
        make_app(
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=limiter_storage,
            WEB_SIGNIN_RATE_LIMIT="2 per minute",
        ).test_client()
    )
    answers = [
        browser.post("/signin", {"login": f"someone{n}", "password": "guess"}).status_code
        for n in range(3)
    ]
    assert answers == [422, 422, 429]


# Each door's own setting: its second POST in a minute is refused when it allows one.
PAGE_LIMITS = [
    ("WEB_SIGNUP_RATE_LIMIT", "/signup"),
    ("WEB_VERIFY_RATE_LIMIT", "/verify"),
    ("WEB_RESEND_CODE_RATE_LIMIT", "/verify/resend"),
    ("WEB_SIGNIN_RATE_LIMIT", "/signin"),
    ("WEB_SECOND_STEP_RATE_LIMIT", "/signin/code"),
    ("WEB_PASSKEY_OPTIONS_RATE_LIMIT", "/signin/passkey/options"),
    ("WEB_PASSKEY_SIGNIN_RATE_LIMIT", "/signin/passkey"),
    ("WEB_FORGOT_PASSWORD_RATE_LIMIT", "/forgot-password"),
    ("WEB_RESET_PASSWORD_RATE_LIMIT", "/reset/not-a-token"),
    ("WEB_NOT_ME_RATE_LIMIT", "/not-me/not-a-token"),
]


@pytest.mark.parametrize(("setting", "path"), PAGE_LIMITS)
def test_each_door_reads_its_own_setting(app, browser, setting, path):
    app.config[setting] = "1 per minute"
    assert browser.post(path).status_code not in (429, 500)
    assert browser.post(path).status_code == 429


def test_pages_are_not_limited(browser):
    assert all(browser.get("/signin").status_code == 200 for _ in range(15))


def _from(browser, address: str):
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def test_failed_sign_ins_for_one_account_are_limited_across_addresses(browser, user):
    """Ten wrong passwords from ten addresses: the eleventh try waits, even the right one."""
    for n in range(10):
        wrong = _from(browser, f"198.51.100.{n}").post(
            "/signin", {"login": "alice", "password": "x"}
        )
        assert wrong.status_code == 422

    right = _from(browser, "198.51.100.99").post(
        "/signin", {"login": "ALICE", "password": PASSWORD}
    )

    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


def test_an_unknown_login_is_limited_exactly_like_a_known_one(browser, user):
    answers = {}
    for login in ("alice", "nobody-here"):
        for n in range(11):
            response = _from(browser, f"203.0.113.{n}").post(
                "/signin", {"login": login, "password": "x"}
            )
        answers[login] = response.status_code
    assert answers == {"alice": 429, "nobody-here": 429}


def test_successful_sign_ins_do_not_count(browser, new_browser, user):
    for n in range(12):
        signed_in = new_browser()
        _from(signed_in, f"192.0.2.{n}").sign_in()
    assert (
        _from(browser, "192.0.2.200")
        .post("/signin", {"login": "alice", "password": "x"})
        .status_code
        == 422
    )


def test_the_api_login_shares_the_per_account_limit(browser, client, user):
    for n in range(5):
        page = _from(browser, f"198.51.100.{n}").post(
            "/signin", {"login": "alice", "password": "x"}
        )
        assert page.status_code == 422
    for n in range(5, 10):
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        api = client.post("/api/v1/auth/login", json={"email": "Alice ", "password": "x"})
        assert api.status_code == 401

    client.environ_base["REMOTE_ADDR"] = "198.51.100.50"
    response = client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "rate_limited"


def test_a_second_worker_sees_the_first_ones_count_only_with_redis(
    browser, make_app, limiter_storage
):
    """Each worker process has its own memory: with memory:// a limit of 10 lets 10 through
    per worker (which is why production refuses it); Redis is shared, so the 11th is refused
    whichever worker answers."""
    for n in range(10):
        assert browser.post("/signin", {"login": f"someone{n}", "password": "x"}).status_code == 422
    # A new app builds its storage afresh, as a new worker process would.
    second_worker = Browser(
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=limiter_storage).test_client()
    )

    answer = second_worker.post("/signin", {"login": "someone", "password": "x"}).status_code

    assert answer == (422 if limiter_storage == "memory://" else 429)
