"""Fixtures for the JSON API: a client that speaks JSON and bearer tokens, alice signed in
through the API, and PyJWT's notion of "now" following portal.clock (so clock.advance()
expires tokens the way it expires codes and sessions)."""

from datetime import datetime

import jwt.api_jwt
import pytest
from api_helpers import Api

from portal import clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return clock.utcnow().astimezone(tz) if tz else clock.utcnow().replace(tzinfo=None)


@pytest.fixture(autouse=True)
def jwt_follows_portal_clock(monkeypatch):
    monkeypatch.setattr(jwt.api_jwt, "datetime", _ClockDatetime)


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def tokens(api, user) -> dict:
    """alice, signed in through the API: {access_token, refresh_token, ..., user}."""
    return api.login()
