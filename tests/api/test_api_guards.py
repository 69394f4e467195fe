"""API query arguments with NUL characters or broken Unicode are 422 `validation_error`, like
such JSON strings (portal/guards.py); the API is token-authenticated, so where a request
comes from (Origin, Sec-Fetch-Site) does not matter."""

import pytest
from api_helpers import assert_problem
from web_helpers import PASSWORD


@pytest.mark.parametrize(
    "path",
    ["/sessions?cursor=%00", "/users/me?fields=a%00b", "/sessions?%00=1"],
)
def test_nul_in_an_api_query_argument_is_a_validation_error(api, tokens, path):
    response = api.get(path, token=tokens["access_token"])

    problem = assert_problem(response, 422, "validation_error")
    assert list(problem["errors"].values()) == [["Must not contain NUL characters."]]


def test_the_problem_names_the_argument(api, tokens):
    response = api.get("/sessions?limit=5&cursor=ab%00c", token=tokens["access_token"])

    assert assert_problem(response, 422)["errors"] == {
        "cursor": ["Must not contain NUL characters."]
    }


def test_nul_in_an_anonymous_api_query_is_a_validation_error(api):
    response = api.post("/auth/login?x=%00", {"email": "alice", "password": "x"})

    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("text", ["ali\\u0000ce", "\\ud800alice", "alice\\udfff"])
def test_nul_or_lone_surrogate_in_an_api_body_is_a_validation_error(api, text):
    raw = '{"email": "' + text + '", "password": "x"}'  # JSON escapes, as a client sends them
    response = api.client.post("/api/v1/auth/login", data=raw, content_type="application/json")

    problem = assert_problem(response, 422, "validation_error")
    assert "email" in problem["errors"]


def test_the_api_is_not_judged_by_origin(api, user):
    response = api.post(
        "/auth/login",
        {"email": "alice", "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example"},
    )

    assert response.status_code == 200
