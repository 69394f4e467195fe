"""One JSON object per log line on stdout, each with the request id (X-Request-ID)."""

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
# Reset links carry their token in the path; servers' own request lines (the development
# server's) pass through this formatter too, so the token is cut out of every message.
_RESET_TOKEN_RE = re.compile(r"/(reset|not-me)/[^\s\"?]+")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# Never logged, whatever a caller puts in `extra`.
_SECRET_KEYS = {"password", "code", "token", "refresh_token", "access_token", "secret"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _RESET_TOKEN_RE.sub("/reset/…", record.getMessage()),
        }
        if has_request_context():
            entry["request_id"] = getattr(g, "request_id", None)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SECRET_KEYS and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, (int, float, bool, type(None))) else str(value)
                )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_portal", False)]
    handler._portal = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    app.logger.handlers = []
    app.logger.propagate = True
    access = logging.getLogger("portal.access")

    @app.before_request
    def _request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        access.info(
            "request",
            extra={
                "method": request.method,
                # The path only (never the query string), reset tokens cut out.
                "path": _RESET_TOKEN_RE.sub("/reset/…", request.path),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)
                if started
                else None,
            },
        )
        return response
