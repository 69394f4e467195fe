"""Traces (README "Operations"): a request's span with its SQL as child spans, exported only
when configured, redacted like the logs (no secret URL, no SQL parameter, no password)."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from web_helpers import PASSWORD, STRONG_PASSWORD, last_code, last_link

from portal import ROOT


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def app_config(exporter):
    return {"TRACING_EXPORTER": exporter}


def spans_named(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_a_sign_in_span_has_its_sql_as_children(browser, user, exporter):
    browser.sign_in()

    [sign_in] = spans_named(exporter, "POST /signin")
    children = [
        s
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == sign_in.context.span_id
    ]
    sql = [s for s in children if s.attributes.get("db.system") == "postgresql"]
    assert len(sql) >= 3, [s.name for s in children]
    statements = " ".join(s.attributes["db.statement"] for s in sql)
    assert "JOIN users" in statements and "INSERT INTO sessions" in statements
    assert all(s.context.trace_id == sign_in.context.trace_id for s in sql)
    assert sign_in.attributes["http.route"] == "/signin"
    assert sign_in.attributes["http.status_code"] == 303


def test_log_lines_link_to_their_trace(client, exporter, capsys):
    capsys.readouterr()
    client.get("/signin")
    [span] = spans_named(exporter, "GET /signin")
    [line] = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if '"portal.access"' in line
    ]
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")


def test_no_secret_reaches_a_span(browser, user, outbox, exporter):
    browser.sign_up(password=STRONG_PASSWORD)
    code = last_code(outbox)
    browser.verify(code)
    browser.sign_out()
    browser.post("/signin", {"login": "alice", "password": "a wrong password typed"})
    browser.post("/forgot-password", {"email": "bob@example.com"}, form_page="/signin")
    path = urlsplit(last_link(outbox)).path
    token = path.rsplit("/", 1)[1]
    new_password = "quince-lantern-meadow-93"
    browser.post(path, {"password": new_password}, form_page=path)
    browser.sign_in(password=PASSWORD)

    exported = [json.loads(s.to_json()) for s in exporter.get_finished_spans()]
    text = json.dumps(exported)
    assert len(exported) > 20 and "POST /reset/<token>" in text  # the spans were captured
    for secret in (STRONG_PASSWORD, code, token, new_password, PASSWORD, "wrong password"):
        assert secret not in text
    urls = [v for s in exported for v in s["attributes"].values() if "/reset/" in str(v)]
    assert "/reset/…" in urls  # the path is there, without its token
    assert all(url.endswith(("/reset/…", "/reset/<token>")) for url in urls), urls


def test_health_checks_and_static_files_are_not_traced(client, exporter):
    for path in ("/health", "/health/db", "/health/queue", "/metrics", "/static/portal.css"):
        client.get(path)
    assert [s for s in exporter.get_finished_spans() if s.parent is None] == []


def test_without_an_endpoint_opentelemetry_is_not_even_imported(tmp_path):
    """The default: no tracing, and no import cost."""
    script = (
        "import sys\n"
        "from portal import create_app\n"
        "app = create_app({'TESTING': True})\n"
        "app.test_client().get('/health')\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('opentelemetry.')}))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PORTAL_", "DATABASE"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/portal.sqlite3"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


class _Collector(BaseHTTPRequestHandler):
    """A fake OTLP/HTTP collector: keeps what it is sent."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Collector.received
    finally:
        server.shutdown()
        server.server_close()


def test_spans_go_to_the_otlp_endpoint_redacted(make_app, user, collector):
    endpoint, received = collector
    traced = make_app(OTEL_EXPORTER_OTLP_ENDPOINT=endpoint)
    client = traced.test_client()
    client.get("/reset/SECRETRESETTOKENSECRETRESETTOKEN")
    client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
    assert traced.extensions["portal_tracing"].force_flush(10_000)

    assert [path for path, _ in received] and {p for p, _ in received} == {"/v1/traces"}
    sent = b"".join(body for _, body in received)
    assert b"/reset/<token>" in sent and b"/api/v1/auth/login" in sent
    assert b"SECRETRESETTOKEN" not in sent
    assert PASSWORD.encode() not in sent
    traced.extensions["portal_tracing"].shutdown()
