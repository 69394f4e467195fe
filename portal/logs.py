"""One JSON object per log line on stdout (python-json-logger), each with the request id
(X-Request-ID), and one line per request; never a password, code or token."""

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

# Every URL path that carries a secret in its next segment: the one list that logs and
# exported traces (portal/tracing.py) redact. tests/test_logs.py checks that every route
# with a token-like variable is on it.
SECRET_PATHS = ("/reset/", "/not-me/")
_SECRET_PATH_RE = re.compile(
    "(" + "|".join(re.escape(p) for p in SECRET_PATHS) + r")[^\s\"'?#/<>]+"
)
# Never logged, whatever a caller puts in `extra`.
_SECRET_KEYS = {"password", "code", "token", "refresh_token", "access_token", "secret"}
_RECORD_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


ACCESS = "portal.access"  # the logger of the one line per request


def redact(text: str) -> str:
    """`text` with the secret of every secret-carrying URL path cut out."""
    return _SECRET_PATH_RE.sub(r"\1…", text) if "/" in text else text


def _clean(value):
    return redact(value) if isinstance(value, str) else value


def quiet() -> bool:
    """Health checks and scrapes: answered, but neither logged per request nor counted in
    request metrics (load balancers and Prometheus call them all the time)."""
    return request.blueprint == "health" or request.endpoint == "metrics.scrape"


def route() -> str:
    """The URL rule (`/reset/<token>`), never the path, which may carry a secret."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


class RedactFilter(logging.Filter):
    """Cuts secrets out of every record before any output sees it: URL tokens in messages,
    extras and tracebacks (the development server logs whole request lines), and extras
    named like secrets. It also stamps the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS and not record.exc_info:
            # The per-request line: made by _log_request from the route, a redacted path
            # and numbers only, so there is nothing to cut.
            return _stamped(record)
        if isinstance(record.msg, dict):  # python-json-logger's structured messages
            record.msg = {k: _clean(v) for k, v in record.msg.items() if k not in _SECRET_KEYS}
        else:
            try:
                message = record.getMessage()
            except Exception:  # a broken log call must not break the request that made it
                message = f"unformattable log message: {record.msg!r}"
            record.msg, record.args = redact(message), None
        for key, value in list(vars(record).items()):
            if key in _RECORD_KEYS:
                continue
            if key in _SECRET_KEYS:
                delattr(record, key)
            else:
                setattr(record, key, _clean(value))
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return _stamped(record)


def _stamped(record: logging.LogRecord) -> bool:
    """The request id on every line, and the trace it belongs to when tracing is on."""
    if not hasattr(record, "request_id") and has_request_context():
        record.request_id = g.get("request_id")
    if not hasattr(record, "trace_id"):
        record.__dict__.update(_trace_ids())
    return True


def _trace_ids() -> dict:
    """{"trace_id", "span_id"} of the current span when tracing is on, else nothing."""
    otel = sys.modules.get("opentelemetry.trace")  # loaded only when tracing is on
    if otel is None:
        return {}
    span = otel.get_current_span().get_span_context()
    if not span.is_valid:
        return {}
    return {"trace_id": format(span.trace_id, "032x"), "span_id": format(span.span_id, "016x")}


# The per-request line's own fields, in the order python-json-logger writes them.
_ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "request_id")
_TRACE_FIELDS = ("trace_id", "span_id")


class _Formatter(JsonFormatter):
    """python-json-logger's lines; the per-request line, one per request, is written the
    same way without its generic work (looking for extras among every attribute of the
    record, a JSON encoder with a fallback for any type): it cost as much as the rest of
    an API answer's Python."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name != ACCESS or record.exc_info or record.args:
            return super().format(record)
        return _access_line(record.levelname, record.msg, record.__dict__, record.created)


def _access_line(level: str, message, fields: dict, created: float) -> str:
    """The per-request line, from a record's attributes or straight from the request."""
    line = {"level": level, "logger": ACCESS, "message": message}
    for name in _ACCESS_FIELDS + _TRACE_FIELDS:
        if name in fields:
            line[name] = fields[name]
    line["time"] = datetime.fromtimestamp(created, tz=UTC).isoformat()
    return json.dumps(line)  # ASCII only, as below


def formatter() -> JsonFormatter:
    return _Formatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        timestamp="time",  # UTC, ISO 8601
    )  # ASCII only (\u escapes): a line is never lost to a stdout that is not UTF-8


class _Stdout(logging.StreamHandler):
    """Always today's sys.stdout (gunicorn, pytest's capture), never the one at start."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value):
        pass


def _write_access_line(access: logging.Logger, fields: dict) -> bool:
    """Write the per-request line straight to the portal's handler, as logging would write
    it: when that handler is the only way out for it (no other handler, no filter, nothing
    disabled: otherwise the caller logs it the usual way, and False says so). Making a
    record and passing it through the logger, the handler and its filter cost more than the
    line itself, once per request (and the line holds nothing to redact)."""
    root = logging.root
    handlers = root.handlers
    if len(handlers) != 1 or access.handlers or access.filters or root.filters:
        return False
    out = handlers[0]
    if (
        not getattr(out, "_portal", False)
        or len(out.filters) != 1
        or out.level > logging.INFO
        or not access.propagate
        or not access.isEnabledFor(logging.INFO)
    ):
        return False
    fields["request_id"] = g.get("request_id")
    fields.update(_trace_ids())
    line = _access_line("INFO", "request", fields, time.time())
    out.acquire()
    try:
        out.stream.write(line + out.terminator)
        out.flush()
    except Exception:  # a broken stdout must not break the answer: logging reports it
        return False
    finally:
        out.release()
    return True


def handler() -> logging.Handler:
    """What reaches stdout: redacted, then one JSON object per line."""
    out = _Stdout()
    out.addFilter(RedactFilter())
    out.setFormatter(formatter())
    out._portal = True
    return out


def render(record: logging.LogRecord) -> str:
    """The line `record` becomes on stdout (for tests)."""
    out = handler()
    out.filter(record)
    return out.format(record)


def init_app(app: Flask) -> None:
    # No line carries the calling function or file: logging need not walk the stack for them
    # on every record (the logging HOWTO's "Optimization"). Thread and process stay: other
    # formatters print them (gunicorn's own lines hold the pid).
    logging._srcfile = None
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_portal", False)]
    root.addHandler(handler())
    root.setLevel(logging.INFO)
    app.logger.handlers = []
    app.logger.propagate = True
    access = logging.getLogger(ACCESS)

    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if given and _REQUEST_ID_RE.match(given) else os.urandom(16).hex()
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if quiet():
            return response
        started = g.get("request_started")
        fields = {
            "method": request.method,
            "route": route(),
            # The path only (never the query string), secrets cut out.
            "path": redact(request.path),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        }
        if not _write_access_line(access, fields):
            access.info("request", extra=fields)
        return response
