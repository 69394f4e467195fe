"""Servers the operations tests start and stop themselves: the portal under gunicorn, Debian's
nginx rendered from deploy/nginx/portal.conf.template, a private PostgreSQL cluster, a fake
Resend. Each on a free port of its own; never the shared PostgreSQL (5432) or Redis (6379),
which other runs and people use."""

import glob
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gunicorn
import pytest
import requests
from db_helpers import app_config_for
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from web_helpers import PASSWORD

from portal import create_app
from portal.config import ENV_NAMES
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "ops-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def need(path: str | None, what: str) -> str:
    """The tool's path; a missing one fails on CI (make test / .ci/run install it) and is a
    visible skip elsewhere."""
    if path:
        return path
    message = f"{what} is not installed: `make test` (or .ci/run) installs it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Process:
    """A server process in a session of its own (so a stop reaches its workers too), its
    output in a file."""

    name: str
    args: list[str]
    env: dict
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if not self.running:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def portal_environment(**settings) -> dict:
    """The environment of a portal process: this one's, without any portal setting the
    developer has exported, plus `settings`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ENV_NAMES and not name.startswith(("PORTAL_", "RATELIMIT_", "FLASK_"))
    }
    env.update({"SECRET_KEY": SECRET_KEY, "PYTHONUNBUFFERED": "1"})
    env.update({name: str(value) for name, value in settings.items()})
    return env


@dataclass
class Gunicorn(Process):
    """`gunicorn wsgi:app`, as the image runs it, on 127.0.0.1:port."""

    port: int = 0

    @classmethod
    def create(cls, name: str, log_dir: Path, env: dict, *, workers: int = 2) -> "Gunicorn":
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--graceful-timeout",
            "5",
            # gunicorn 27's control socket sits at one path per user: runs side by side
            # would take each other's.
            *(["--no-control-socket"] if gunicorn.version_info >= (27,) else []),
            "wsgi:app",
        ]
        return cls(name, args, env, log_dir / f"{name}.log", port=port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Gunicorn":
        super().start()

        def answers():
            if not self.running:
                raise AssertionError(f"{self.name} exited:\n{self.logs()[-3000:]}")
            try:
                return requests.get(self.url + "/health", timeout=2).status_code == 200
            except requests.RequestException:  # not listening yet, or workers still booting
                return False

        wait_for(answers, timeout=timeout, what=f"{self.name} to answer")
        return self


def _render_nginx_module():
    spec = importlib.util.spec_from_file_location(
        "render_nginx", ROOT / "deploy" / "render_nginx.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_nginx = _render_nginx_module()


@dataclass
class Nginx(Process):
    """Debian's nginx running deploy/nginx/portal.conf.template rendered for local ports. Its
    access log (the template logs to stdout) is `logs()`."""

    port: int = 0
    prefix: Path = field(default_factory=Path)

    @classmethod
    def create(cls, prefix: Path, apps: list[str]) -> "Nginx":
        binary = need(render_nginx.find_nginx(), "nginx (Debian's package)")
        port = free_port()
        main = render_nginx.render_local(prefix, f"127.0.0.1:{port}", apps)
        args = [binary, "-p", str(prefix), "-e", "stderr", "-c", str(main), "-g", "daemon off;"]
        return cls("nginx", args, dict(os.environ), prefix / "nginx.log", port=port, prefix=prefix)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Nginx":
        super().start()

        def listens():
            if not self.running:
                raise AssertionError(f"nginx exited:\n{self.logs()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listens, timeout=10, what="nginx to listen")
        return self

    def upstreams_of(self, method: str, path: str) -> list[str]:
        """nginx's $upstream_addr for each `METHOD path` so far: the app server that answered
        ("127.0.0.1:8001"), or those it tried in turn ("127.0.0.1:8001, 127.0.0.1:8002")."""
        pattern = re.compile(rf'"{re.escape(method)} {re.escape(path)}" \d{{3}} \d+ \S+ (.+) rid=')
        # nginx writes its access line after the answer has gone out: the client may read the
        # log a moment before the line is there, so give it a second to arrive.
        deadline = time.monotonic() + 2
        while True:
            found = [m.group(1) for m in map(pattern.search, self.logs().splitlines()) if m]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb into a temporary folder, a free port,
    trust authentication on 127.0.0.1 only), which the test may stop and start at will.
    initdb refuses to run as root: as root, every command runs as the `postgres` user."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
        initdb = found[-1] if found else shutil.which("initdb")
        self.bindir = Path(need(initdb, "PostgreSQL's server (initdb)")).parent
        self.base = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.base / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/portal"

    def _run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tools with our arguments
            [*self.as_user, *args], check=True, capture_output=True, timeout=60
        )

    def init(self) -> "PrivatePostgres":
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m"]
                + ["immediate", "-w", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.base, ignore_errors=True)


def _version(path: str) -> tuple:
    part = Path(path).parts[-3]
    return tuple(int(p) for p in part.split(".") if p.isdigit())


class FakeResend:
    """Resend's POST /emails on a free port, with outages the test switches on and off:
    "ok", "error" (500s) or "slow" (answers after the client has given up, like a timeout;
    the email is accepted all the same, as Resend would). Like Resend, a repeated
    Idempotency-Key gets the first answer again and sends nothing more."""

    def __init__(self, slow_seconds: float = 0.6):
        self.mode = "ok"
        self.slow_seconds = slow_seconds
        self.sent: dict[str, dict] = {}  # idempotency key -> the email, sent once
        self.requests: list[tuple[str, str]] = []  # (mode, key) of every request
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key", "")
                mode = fake.mode
                with fake._lock:
                    fake.requests.append((mode, key))
                if mode == "error":
                    return self._answer(
                        500,
                        {"statusCode": 500, "name": "internal_server_error", "message": "down"},
                    )
                if mode == "slow":
                    time.sleep(fake.slow_seconds)
                with fake._lock:
                    if key not in fake.sent:
                        fake.sent[key] = {**body, "id": str(uuid.uuid4())}
                    answer = {"id": fake.sent[key]["id"]}
                self._answer(200, answer)

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "FakeResend":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# -- rows in a database the portal serves from another process ---------------------------


@contextmanager
def app_on(url: str, tmp_path, **overrides):
    """An app of this process on `url`, in its context (to write rows or run the worker)."""
    app = create_app(app_config_for(url, tmp_path, **overrides))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def empty_tables(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()


def add_user(url: str, tmp_path, email: str = "ops@example.com", password: str = PASSWORD):
    """A verified account, written directly: its id."""
    with app_on(url, tmp_path):
        user = User(
            id=uuid.uuid4(),
            email=email,
            username=email.split("@")[0],
            password_hash=hash_password(password),
            is_verified=True,
        )
        db.session.add(user)
        db.session.commit()
        return user.id
