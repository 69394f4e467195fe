"""Every error under /api/ is problem+json, and bad input is never a 500."""

import json

import pytest
from api_helpers import PREFIX, assert_problem
from web_helpers import PASSWORD

ENDPOINTS = [
    ("POST", "/auth/register"),
    ("POST", "/auth/verify"),
    ("POST", "/auth/verify/resend"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/reset-password"),
]


def raw(client, method, path, data, content_type="application/json", **headers):
    return client.open(
        PREFIX + path, method=method, data=data, headers={"Content-Type": content_type, **headers}
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "data",
    [b"{", b"", b"{'a': 1}", b"\xff\xfe\xfa", b"[" * 5000 + b"]" * 5000, b'{"a": 1}}'],
)
def test_malformed_json_is_400(client, method, path, data):
    assert_problem(raw(client, method, path, data), 400, "invalid_json")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("body", [[], [1, 2], "text", 42, None, True, [{"email": "a@example.com"}]])
def test_json_that_is_not_an_object_is_422(client, method, path, body):
    problem = assert_problem(raw(client, method, path, json.dumps(body)), 422, "validation_error")
    assert problem["errors"] == {"body": ["Send a JSON object."]}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_non_json_content_type_is_415(client, method, path, content_type):
    response = raw(client, method, path, b'{"email": "a@example.com"}', content_type)
    assert_problem(response, 415, "unsupported_media_type")


def test_charset_and_plus_json_are_json(client, user):
    body = json.dumps({"email": "alice", "password": PASSWORD})
    for content_type in ("application/json; charset=utf-8", "application/vnd.portal+json"):
        assert raw(client, "POST", "/auth/login", body, content_type).status_code == 200


def test_body_too_large_is_413(client):
    body = json.dumps({"email": "a@example.com", "password": "x" * 70_000})
    assert_problem(raw(client, "POST", "/auth/login", body), 413, "request_too_large")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        -1,
        1.5,
        10**100,
        True,
        [],
        {},
        "",
        "x" * 60_000,
        "\x00",
        "\ud800",
        "é\u202e\U0001f600",
        "' OR 1=1 --",
        "<script>",
    ],
)
def test_hostile_values_never_cause_a_500(client, method, path, value):
    body = {
        name: value for name in ("email", "username", "password", "code", "token", "refresh_token")
    }
    response = raw(client, method, path, json.dumps(body))
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/users/me", {"username": "\ud800"}),
        ("PATCH", "/users/me", {"email": "x@\x00.com"}),
        ("PUT", "/users/me", {"username": ["a"]}),
        ("POST", "/users/me/email/confirm", {"code": 123456}),
        ("POST", "/users/me/password", {"current_password": None, "new_password": 1}),
        ("DELETE", "/users/me", {"password": {"x": 1}}),
        ("DELETE", "/sessions/%00", None),
        ("GET", "/sessions/" + "a" * 2000, None),
        ("DELETE", "/users/%E2%80%AE", None),
    ],
)
def test_hostile_values_with_a_token(client, api, tokens, method, path, body):
    response = api.request(method, path, body, token=tokens["access_token"])
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert_problem(response, response.status_code)


def test_unknown_path_is_404_problem(client):
    assert_problem(client.get(PREFIX + "/nope"), 404, "not_found")
    assert_problem(client.get("/api/nope"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/auth/login"),
        ("DELETE", "/auth/register"),
        ("POST", "/users/me"),
        ("PATCH", "/sessions"),
    ],
)
def test_wrong_method_is_405_problem_with_allow(client, method, path):
    response = client.open(PREFIX + path, method=method)
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"]


def test_auth_is_checked_before_the_body(client):
    response = raw(client, "PATCH", "/users/me", b"{", "application/json")
    assert_problem(response, 401, "invalid_token")


def test_body_errors_with_a_token(api, tokens, client):
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert_problem(raw(client, "PATCH", "/users/me", b"{", **headers), 400, "invalid_json")
    assert_problem(raw(client, "PATCH", "/users/me", b"{}", "text/plain", **headers), 415)
    assert_problem(raw(client, "PATCH", "/users/me", b"[]", **headers), 422)
