"""The OpenAPI document, the docs page, and schemathesis against both."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from portal.api.spec import REGISTRY
from portal.client import Client
from portal.flows import api_tokens, signin

DOC = "/api/v1/openapi.json"


def test_openapi_document(client):
    response = client.get(DOC)
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    paths = doc["paths"]
    expected = {
        ("post", "/auth/register"): "202",
        ("post", "/auth/verify"): "200",
        ("post", "/auth/verify/resend"): "202",
        ("post", "/auth/login"): "200",
        ("post", "/auth/refresh"): "200",
        ("post", "/auth/logout"): "204",
        ("post", "/auth/logout/all"): "204",
        ("post", "/auth/forgot-password"): "202",
        ("post", "/auth/reset-password"): "204",
        ("get", "/users/me"): "200",
        ("patch", "/users/me"): "200",
        ("put", "/users/me"): "200",
        ("post", "/users/me/email/confirm"): "200",
        ("post", "/users/me/password"): "204",
        ("delete", "/users/me"): "204",
        ("get", "/sessions"): "200",
        ("get", "/sessions/{session_id}"): "200",
        ("delete", "/sessions/{session_id}"): "204",
        ("delete", "/sessions"): "204",
        ("delete", "/users/{user_id}"): "204",
    }
    for (method, path), status in expected.items():
        operation = paths["/api/v1" + path][method]
        assert status in operation["responses"], (method, path)
        for code, answer in operation["responses"].items():
            if code.startswith(("4", "5")):
                assert "application/problem+json" in answer["content"]
    assert paths["/api/v1/users/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    # generated from the very schemas that validate requests
    login = doc["components"]["schemas"]["LoginRequest"]
    assert set(login["required"]) == {"email", "password"}
    assert "Problem" in doc["components"]["schemas"]
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]


def test_every_api_route_is_documented(app):
    documented = {(op.rule, m) for op in REGISTRY for m in op.methods}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint not in ("api.openapi", "api.docs"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (rule.rule.removeprefix("/api/v1"), method) in documented, rule


def test_docs_page_is_served_without_cdn_or_inline_script(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert "<script>" not in html  # every script has a src on this site
    for asset in (
        "swagger-ui/swagger-ui-bundle.js",
        "swagger-ui/swagger-ui.css",
        "swagger-ui/portal-docs.js",
    ):
        assert f"/static/{asset}" in html
        assert client.get(f"/static/{asset}").status_code == 200
    assert "script-src" not in response.headers["Content-Security-Policy"] or (
        "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1]
    )


# Schemathesis: every operation, generated requests, every check.


@pytest.fixture
def api_schema(live_app):
    schema = schemathesis.openapi.from_wsgi(DOC, live_app)
    # The schema says which requests are well formed; the rules behind them (a strong
    # password, the right code, an unused username) can still refuse well-formed data with
    # 400/422, which is documented for those operations.
    checks = schema.config.checks
    checks.positive_data_acceptance.expected_statuses = [
        *checks.positive_data_acceptance.expected_statuses,
        "400",
        "422",
    ]
    return schema


LIMITS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def run_schemathesis(schema, headers=None) -> int:
    """Every operation of `schema`, positive and negative data, every check."""
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @LIMITS
            def check(case):
                case.call_and_validate(headers=headers() if headers else None)

            check()
            count += 1
    return count


def test_schemathesis_anonymous(api_schema):
    anonymous = api_schema.include(tag="auth").exclude(path_regex="logout")
    assert run_schemathesis(anonymous) == 2 * 7


@pytest.fixture
def live_token(live_app, live_user):
    """A fresh access token for a real, verified account (a new API session per call)."""
    email, password = live_user

    def issue() -> dict:
        with live_app.app_context():
            client = Client("127.0.0.1", "schemathesis")
            session = signin.sign_in(email, password, client, kind="api")
            token = api_tokens.issue_tokens(session).access_token
        return {"Authorization": f"Bearer {token}"}

    return issue


def test_schemathesis_authenticated(api_schema, live_token):
    authenticated = api_schema.include(path_regex=r"^/api/v1/(users|sessions)|/logout")
    assert run_schemathesis(authenticated, headers=live_token) == 2 * 13
