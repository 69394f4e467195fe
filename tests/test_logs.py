"""Logs: one JSON object per line, with the request id, and never a reset token."""

import json
import logging

from portal.logs import JSONFormatter


def test_access_log_has_the_path_without_its_reset_token(client, caplog):
    caplog.set_level(logging.INFO)
    client.get("/reset/SECRETTOKENSECRETTOKENSECRETTOKEN123")
    access = [r for r in caplog.records if r.name == "portal.access"]
    assert access[-1].path == "/reset/…"
    formatted = [json.loads(JSONFormatter().format(r)) for r in caplog.records]
    assert all("SECRETTOKEN" not in json.dumps(line) for line in formatted)


def test_server_request_lines_lose_their_reset_token():
    """The development server logs whole request lines through the same formatter."""
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - "%s" 200 -',
        ("GET /reset/abcDEF123_-xyz?x=1 HTTP/1.1",),
        None,
    )
    entry = json.loads(JSONFormatter().format(record))
    assert "abcDEF123" not in entry["message"]
    assert "/reset/…" in entry["message"]
