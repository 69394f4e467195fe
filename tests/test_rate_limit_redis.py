"""A Redis that goes away while the portal runs: requests keep being answered and limited,
each process counting on its own, with a warning logged; never a 500 (README "Rules worth
knowing")."""

import logging

import pytest
from redis_helpers import redis_server

from portal.extensions import limiter


@pytest.fixture
def doomed_redis():
    """A private redis-server this test may kill."""
    with redis_server() as server:
        yield server


@pytest.fixture
def app_config(doomed_redis):
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": doomed_redis.url}


@pytest.fixture(autouse=True)
def storage_alive_again():
    """The limiter is one object for every app in this process and remembers that its storage
    died; the next test's app must start with its own storage in use."""
    yield
    limiter._storage_dead = False


def _fallback_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "in-memory" in record.getMessage()
    ]


def test_sign_in_is_counted_in_redis(browser, doomed_redis):
    for n in range(3):
        assert browser.post("/signin", {"login": f"someone{n}", "password": "x"}).status_code == 422

    with doomed_redis.client() as conn:
        assert conn.dbsize() > 0


def test_a_lost_redis_degrades_to_counting_in_this_process(browser, client, doomed_redis, caplog):
    caplog.set_level(logging.INFO)
    for n in range(3):
        assert browser.post("/signin", {"login": f"someone{n}", "password": "x"}).status_code == 422

    doomed_redis.kill()
    pages = [browser.get("/signin").status_code for _ in range(3)]
    answers = [
        browser.post("/signin", {"login": f"other{n}", "password": "x"}).status_code
        for n in range(11)
    ]
    api = client.post("/api/v1/auth/login", json={"email": "nobody", "password": "x"})

    assert pages == [200, 200, 200]
    # The per-process count starts afresh: 10 more tries (the limit), then 429 as before.
    assert answers == [422] * 10 + [429]
    assert api.status_code == 401
    assert _fallback_warnings(caplog), caplog.text
    assert not [r for r in caplog.records if r.name == "portal.errors"]  # no unhandled error


def test_redis_lost_between_the_check_and_the_answer_is_no_500(browser, doomed_redis, caplog):
    """The limiter reads Redis again after the view (for the X-RateLimit headers): Redis
    vanishing in between must not turn the answer into a 500."""
    caplog.set_level(logging.INFO)
    page = browser.get("/signin")
    assert page.status_code == 200

    original = browser.client.application.view_functions["auth.sign_in"]

    def sign_in_then_lose_redis(*args, **kwargs):
        response = original(*args, **kwargs)
        doomed_redis.kill()
        return response

    browser.client.application.view_functions["auth.sign_in"] = sign_in_then_lose_redis
    answer = browser.post("/signin", {"login": "alice", "password": "wrong"})

    assert answer.status_code == 422
    after = browser.post("/signin", {"login": "alice", "password": "wrong"})
    assert after.status_code == 422
    assert _fallback_warnings(caplog), caplog.text
