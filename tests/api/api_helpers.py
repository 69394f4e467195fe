"""Helpers for the API tests (importable: conftest modules are not). Passwords and emailed
codes are shared with the page tests: import them from web_helpers."""

import re

from web_helpers import PASSWORD, last_code

PREFIX = "/api/v1"
MOBILE_UA = "PortalApp/2.3 (iPhone; iOS 17.5)"
# What /auth/login, /auth/verify and /auth/refresh answer with.
TOKEN_FIELDS = {"access_token", "refresh_token", "token_type", "expires_in", "user", "device_token"}


class Api:
    """JSON requests to /api/v1 with an optional bearer token."""

    def __init__(self, client, user_agent: str = MOBILE_UA):
        self.client = client
        self.user_agent = user_agent

    def request(self, method, path, json=None, *, token=None, headers=None, **kwargs):
        all_headers = {"User-Agent": self.user_agent, **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            kwargs["json"] = json
        return self.client.open(PREFIX + path, method=method, headers=all_headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json, **kwargs)

    def delete(self, path, json=None, **kwargs):
        return self.request("DELETE", path, json, **kwargs)

    def login(self, email="alice@example.com", password=PASSWORD, **kwargs) -> dict:
        response = self.post("/auth/login", {"email": email, "password": password}, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem with our stable fields."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    body = response.get_json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


def register(api, email, username, password=PASSWORD, **kwargs):
    """POST /auth/register: a pending sign-up (not an account until its code confirms it)."""
    body = {"email": email, "username": username, "password": password}
    return api.post("/auth/register", body, **kwargs)


def verify(api, email, code, password=None, **kwargs):
    """POST /auth/verify, with the sign-up's password when given."""
    body = {"email": email, "code": code}
    if password is not None:
        body["password"] = password
    return api.post("/auth/verify", body, **kwargs)


def sign_up(api, outbox, email, username, password=PASSWORD) -> dict:
    """Register and confirm with the emailed code: the tokens of the new account."""
    assert register(api, email, username, password).status_code == 202
    response = verify(api, email, last_code(outbox, username=username), password)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def reset_token(outbox) -> str:
    """The token of the newest reset link emailed."""
    message = [m for m in outbox if m["kind"] == "reset_password"][-1]
    return re.search(r"/reset/([A-Za-z0-9_\-]+)", message["text"]).group(1)


def from_ip(address: str) -> dict:
    """Request keyword arguments for a caller at `address`."""
    return {"environ_base": {"REMOTE_ADDR": address}}
