"""Logs: one JSON object per line, with the request id, and never a URL's secret."""

import json
import logging

import pytest

from portal.logs import SECRET_PATHS, redact, render


@pytest.mark.parametrize("prefix", ["/reset/", "/not-me/"])
def test_access_log_has_the_path_without_its_secret(client, caplog, prefix):
    caplog.set_level(logging.INFO)
    client.get(f"{prefix}SECRETTOKENSECRETTOKENSECRETTOKEN123")
    access = [r for r in caplog.records if r.name == "portal.access"]
    assert access[-1].path == f"{prefix}…"
    assert access[-1].route == f"{prefix}<token>"
    formatted = [json.loads(render(r)) for r in caplog.records]
    assert all("SECRETTOKEN" not in json.dumps(line) for line in formatted)


def test_server_request_lines_lose_their_secret():
    """The development server logs whole request lines through the same filter."""
    for prefix in SECRET_PATHS:
        record = logging.LogRecord(
            "werkzeug",
            logging.INFO,
            __file__,
            1,
            '127.0.0.1 - - "%s" 200 -',
            (f"GET {prefix}abcDEF123_-xyz?x=1 HTTP/1.1",),
            None,
        )
        entry = json.loads(render(record))
        assert "abcDEF123" not in entry["message"]
        assert f"{prefix}…" in entry["message"]


def test_every_route_that_carries_a_secret_is_redacted(app):
    """A new route with a token in its path must join SECRET_PATHS (one list for logs and
    traces): a route variable named like a secret is checked against it."""
    for rule in app.url_map.iter_rules():
        secret_args = [a for a in rule.arguments if any(w in a for w in ("token", "secret"))]
        if secret_args:
            path = rule.rule
            for arg in secret_args:
                path = path.replace(f"<{arg}>", "S3CR3T")
            assert "S3CR3T" not in redact(path), f"{rule.rule} is not in logs.SECRET_PATHS"


def test_extras_named_like_secrets_and_secrets_in_tracebacks_are_dropped():
    try:
        raise ValueError("bad link http://portal.test/reset/TRACEBACKTOKEN")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.password = "hunter2-hunter2"  # noqa: S105
    record.link = "http://portal.test/not-me/EXTRATOKEN"
    line = render(record)
    entry = json.loads(line)
    assert "password" not in entry
    assert entry["link"] == "http://portal.test/not-me/…"
    assert "ValueError" in entry["exception"]
    for secret in ("hunter2", "EXTRATOKEN", "TRACEBACKTOKEN"):
        assert secret not in line


@pytest.mark.parametrize("traced", [False, True])
def test_the_per_request_line_is_the_line_python_json_logger_writes(traced):
    """The per-request line takes a shorter way to its JSON (portal/logs.py _Formatter):
    the same fields, values and order as the generic formatter gives every other line."""
    from pythonjsonlogger.json import JsonFormatter

    from portal.logs import ACCESS, formatter

    record = logging.LogRecord(ACCESS, logging.INFO, __file__, 1, "request", (), None)
    fields = {"method": "GET", "route": "/sessions", "path": "/sessions", "status": 200}
    fields |= {"duration_ms": 3.2, "request_id": "ab" * 16}
    if traced:
        fields |= {"trace_id": "1" * 32, "span_id": "2" * 16}
    record.__dict__.update(fields)
    generic = JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",
    )
    fast, slow = formatter().format(record), generic.format(record)
    assert fast == slow
    assert list(json.loads(fast)) == ["level", "logger", "message", *fields, "time"]


def test_the_per_request_line_goes_straight_out_as_logging_would_write_it(client, capsys):
    """Served (the portal's handler the only one on the root logger), the per-request line
    skips making a record (logs._write_access_line); it is the line logging writes, which
    it still does as soon as anything else listens (here: pytest's own handlers)."""
    from portal import logs

    taken = []
    original = logs._write_access_line

    def spy(access, fields):
        taken.append(original(access, fields))
        return taken[-1]

    root = logging.getLogger()
    kept = root.handlers[:]
    headers = {"X-Request-ID": "same-request-id"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logs, "_write_access_line", spy)
        root.handlers = [h for h in kept if getattr(h, "_portal", False)]
        try:
            client.get("/signin", headers=headers)
        finally:
            root.handlers = kept
        direct = capsys.readouterr().out.splitlines()[-1]
        client.get("/signin", headers=headers)
        usual = capsys.readouterr().out.splitlines()[-1]
    assert taken == [True, False]
    direct, usual = json.loads(direct), json.loads(usual)
    assert list(direct) == list(usual)
    for moving in ("time", "duration_ms"):
        assert type(direct.pop(moving)) is type(usual.pop(moving))
    assert direct == usual
    assert direct["request_id"] == "same-request-id" and direct["route"] == "/signin"


def test_a_broken_stdout_never_breaks_the_answer(client, monkeypatch):
    """Written straight out or through logging, a line that cannot be written is logging's
    problem to report (on stderr), never the request's."""
    import sys

    class Gone:
        def write(self, _text):
            raise OSError("stdout is gone")

        def flush(self):
            pass

    root = logging.getLogger()
    kept = root.handlers[:]
    monkeypatch.setattr(logging, "raiseExceptions", False)  # logging's own report: quiet here
    monkeypatch.setattr(sys, "stdout", Gone())
    root.handlers = [h for h in kept if getattr(h, "_portal", False)]
    try:
        response = client.get("/signin")
    finally:
        root.handlers = kept
    assert response.status_code == 200
