"""The OpenAPI document, the docs page, and schemathesis against both."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from portal import __version__
from portal.api.openapi import openapi_document
from portal.api.spec import REGISTRY
from portal.flows import signin, token_pairs
from portal.origin import Origin

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
    csp = response.headers["Content-Security-Policy"]
    policy = dict(directive.strip().split(" ", 1) for directive in csp.split(";"))
    # No script-src: scripts fall back to default-src, this site's files only, none inline.
    assert "script-src" not in policy
    assert policy["default-src"] == "'self'"


# Schemathesis: every operation, every phase (examples, coverage, fuzzing), every check.
# The schema is the very document the app serves (built from the same registry); requests go
# to `live_app` in-process, on its own database, so generated data is really committed.

schema = schemathesis.openapi.from_dict(openapi_document("/api/v1", __version__))


class CurrentLiveApp:
    """The WSGI app schemathesis calls: whichever `live_app` the running test set up."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


LIVE = CurrentLiveApp()
schema.app = LIVE
# The schema says which requests are well formed; the rules behind them (a strong password,
# the right code, an unused username) may still refuse well-formed data, with the 400/422
# answers the document lists for those operations.
_acceptance = schema.config.checks.positive_data_acceptance
_acceptance.expected_statuses = [*_acceptance.expected_statuses, "400", "422"]

LIMITS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture
def served(live_app):
    LIVE.app = live_app
    yield live_app
    LIVE.app = None


@schema.include(path_regex=r"^/api/v1/auth/(?!logout)").parametrize()
@LIMITS
def test_schemathesis_anonymous(case, served):
    case.call_and_validate()


@pytest.fixture
def live_token(live_app, live_user):
    """Fresh bearer headers for a real, verified account (a new API session each call), so an
    operation that ends sessions (logout, DELETE /sessions) never starves the next case."""
    email, password = live_user
    device = {}

    def issue() -> dict:
        with live_app.app_context():
            origin = Origin("127.0.0.1", "schemathesis")
            # As the owner's app: its device token keeps the device's own guessing budget, so
            # the wrong codes schemathesis sends (they spend the account's) never lock it out.
            session = signin.sign_in(
                email, password, origin, kind="api", device_token=device.get("token")
            )
            device["token"] = session.device_token
            token = token_pairs.issue_tokens(session).access_token
        return {"Authorization": f"Bearer {token}"}

    return issue


@schema.include(path_regex=r"^/api/v1/(users|sessions)|/logout").parametrize()
@LIMITS
def test_schemathesis_authenticated(case, served, live_token):
    case.call_and_validate(headers=live_token())


@pytest.mark.parametrize(
    ("password", "status"),
    [("x" * 100, 422), ("plum velvet orbit canyon " * 5, 202), ("é" * 128, 422)],
)
def test_long_passwords_are_not_a_server_error(api, password, status):
    response = api.post(
        "/auth/register", {"email": "long@example.com", "username": "long", "password": password}
    )
    assert response.status_code == status
