"""Rate limits on the anonymous endpoints: 429 `rate_limited` with Retry-After, counted in
memory (development) and in Redis (production)."""

import pytest
from api_helpers import assert_problem


@pytest.fixture
def app_config(limiter_storage):
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": limiter_storage,
        "API_AUTH_RATE_LIMIT": "3 per minute",
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", {"email": "nobody", "password": "whatever"}),
        ("/auth/register", {}),
        ("/auth/verify", {"email": "a@example.com", "code": "123456"}),
        ("/auth/verify/resend", {"email": "a@example.com"}),
        ("/auth/forgot-password", {"email": "a@example.com"}),
        ("/auth/reset-password", {"token": "x", "password": "y"}),
    ],
)
def test_too_many_requests(api, path, body):
    for _ in range(3):
        assert api.post(path, body).status_code != 429
    response = api.post(path, body)
    problem = assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert problem["detail"]


def test_refresh_is_limited_too(app, api):
    app.config["API_REFRESH_RATE_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert api.post("/auth/refresh", {"refresh_token": "x"}).status_code == 401
    assert_problem(api.post("/auth/refresh", {"refresh_token": "x"}), 429, "rate_limited")
