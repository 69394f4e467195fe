"""Logs as operators read them (README "Operations"): on stdout, one JSON object per line,
one line per request with its request id, route, status and duration; none for health
checks or scrapes; no password, code or token."""

import json

import pytest
from ops_helpers import BEARER, METRICS_TOKEN
from web_helpers import STRONG_PASSWORD, last_code


@pytest.fixture
def app_config():
    return {"METRICS_TOKEN": METRICS_TOKEN}


def lines(capsys) -> list[dict]:
    """What reached stdout: each line must be one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def requests_logged(capsys) -> list[dict]:
    return [line for line in lines(capsys) if line["logger"] == "portal.access"]


def test_one_line_per_request_with_id_route_status_and_duration(client, capsys):
    capsys.readouterr()
    response = client.get("/reset/SECRETSECRETSECRETSECRET", headers={"X-Request-ID": "req-42"})

    [entry] = requests_logged(capsys)
    assert entry["message"] == "request"
    assert entry["request_id"] == "req-42" == response.headers["X-Request-ID"]
    assert entry["method"] == "GET"
    assert entry["route"] == "/reset/<token>"
    assert entry["path"] == "/reset/…"
    assert entry["status"] == response.status_code
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["level"] == "INFO" and entry["time"].endswith("+00:00")


def test_a_request_id_is_made_when_none_comes_and_returned(client, capsys):
    capsys.readouterr()
    response = client.get("/signin")
    [entry] = requests_logged(capsys)
    assert len(entry["request_id"]) == 32
    assert entry["request_id"] == response.headers["X-Request-ID"]


def test_lines_logged_during_a_request_carry_its_id(auth, capsys):
    capsys.readouterr()
    headers = {"X-Request-ID": "cross-1", "Sec-Fetch-Site": "cross-site"}
    assert auth.post("/signout", form_page="/profile", headers=headers).status_code == 403
    logged = {line["message"]: line for line in lines(capsys) if line.get("request_id")}
    assert logged["cross_site_request_refused"]["request_id"] == "cross-1"
    assert logged["cross_site_request_refused"]["level"] == "WARNING"
    assert logged["request"]["request_id"] == "cross-1"


@pytest.mark.parametrize("path", ["/health", "/health/db", "/health/queue", "/metrics"])
def test_health_checks_and_scrapes_are_not_logged(client, capsys, path):
    capsys.readouterr()
    response = client.get(path, headers=BEARER)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"]  # still answered with one
    assert requests_logged(capsys) == []


def test_a_whole_sign_up_logs_json_only_and_no_secret(browser, outbox, capsys):
    capsys.readouterr()
    browser.sign_up(password=STRONG_PASSWORD)
    code = last_code(outbox)
    browser.verify(code)
    out = capsys.readouterr().out
    assert out.strip()
    for line in out.splitlines():
        assert isinstance(json.loads(line), dict)
    assert STRONG_PASSWORD not in out and code not in out
