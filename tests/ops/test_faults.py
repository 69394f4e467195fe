"""Faults, each on a served portal and on servers the test starts itself (issue 10): a
PostgreSQL restart under a stream of requests, a Redis that goes away, a Resend that answers
500s and times out. Never the shared PostgreSQL or Redis: those are never stopped or flushed.

In-process behaviour is tested beside the code: tests/test_rate_limit_redis.py (exact counts
after Redis is lost, Redis lost mid-request), tests/test_outbox.py (backoff, give-up, one
idempotency key per message)."""

import json
import shutil
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
import resend
from db_helpers import app_config_for, ensure_database, migrate_fresh
from redis_helpers import redis_server
from servers import (
    SECRET_KEY,
    FakeResend,
    Gunicorn,
    PrivatePostgres,
    add_user,
    app_on,
    empty_tables,
    portal_environment,
    wait_for,
)
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool
from web_helpers import PASSWORD, STRONG_PASSWORD, csrf_token_in

from portal import clock, create_app, outbox
from portal import email as mail
from portal.extensions import db
from portal.models import OutboxMessage

EMAIL = "ops@example.com"


def log_lines(server: Gunicorn) -> list[dict]:
    """The portal's JSON log lines (gunicorn's own lines are not JSON)."""
    lines = []
    for line in server.logs().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


class PlainHttpBrowser(requests.Session):
    """Production marks cookies Secure; this browser sends them back over plain http all the
    same (the servers are on 127.0.0.1, with no TLS in between)."""

    def request(self, *args, **kwargs):
        for cookie in self.cookies:
            cookie.secure = False
        return super().request(*args, **kwargs)


# -- PostgreSQL restarts ----------------------------------------------------------------------


@pytest.fixture
def private_postgres(tmp_path):
    server = PrivatePostgres().init()
    try:
        server.start()
        ensure_database(server.url)
        migrate_fresh(server.url, tmp_path / "migrate")
        yield server
    finally:
        server.remove()


@pytest.fixture
def private_redis():
    with redis_server() as server:
        yield server


def test_a_postgresql_restart_answers_503_then_every_request_succeeds(
    private_postgres, private_redis, tmp_path
):
    """Production mode, two workers, no pool_pre_ping. While PostgreSQL is away pages say so
    and the API answers problem+json 503 with Retry-After (no 500, no traceback); once it is
    back every request succeeds (the contract is within 5 s; in fact from the next one)."""
    add_user(private_postgres.url, tmp_path, EMAIL)
    app = Gunicorn.create(
        "app",
        tmp_path,
        portal_environment(
            PORTAL_ENV="production",
            DATABASE_URL=private_postgres.url,
            PORTAL_BASE_URL="http://portal.test",
            MAIL_BACKEND="file",
            MAIL_FILE_DIR=tmp_path / "mail",
            RATELIMIT_STORAGE_URI=private_redis.url,
        ),
    ).start()
    try:
        browser = PlainHttpBrowser()
        page = browser.get(f"{app.url}/signin", timeout=10)
        signed_in = browser.post(
            f"{app.url}/signin",
            data={"login": EMAIL, "password": PASSWORD, "csrf_token": csrf_token_in(page.text)},
            allow_redirects=False,
            timeout=10,
        )
        assert signed_in.status_code == 303
        login = requests.post(
            f"{app.url}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10
        )
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        asks = {
            "page": lambda: browser.get(f"{app.url}/sessions", allow_redirects=False, timeout=10),
            "api": lambda: requests.get(f"{app.url}/api/v1/users/me", headers=bearer, timeout=10),
            "ready": lambda: requests.get(f"{app.url}/health/db", timeout=10),
        }
        answers: list[tuple[float, float, str, requests.Response]] = []
        stop = threading.Event()

        def ask(kind):
            while not stop.is_set():
                started = time.monotonic()
                response = asks[kind]()
                answers.append((started, time.monotonic(), kind, response))
                time.sleep(0.02)

        threads = [threading.Thread(target=ask, args=(kind,)) for kind in asks]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        stopping = time.monotonic()
        private_postgres.stop("fast")
        down = time.monotonic()
        time.sleep(1.5)
        starting = time.monotonic()
        private_postgres.start()
        back = time.monotonic()
        time.sleep(2.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        app.stop()

    before = [r for started, ended, _, r in answers if ended < stopping]
    gap = [(kind, r) for started, ended, kind, r in answers if started > down and ended < starting]
    after = [r for started, _, _, r in answers if started > back + 1]
    assert {r.status_code for _, _, _, r in answers} <= {200, 503}
    assert before and {r.status_code for r in before} == {200}
    assert {kind for kind, _ in gap} == set(asks)
    assert {r.status_code for _, r in gap} == {503}
    for kind, response in gap:
        if kind == "page":
            assert response.headers["Content-Type"].startswith("text/html")
            assert "Back in a moment" in response.text
            assert "Traceback" not in response.text
            assert response.headers["Retry-After"] == "5"
        elif kind == "api":
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json()["code"] == "unavailable"
            assert response.headers["Retry-After"] == "5"
        else:
            assert response.json()["database"] == "unreachable"
    assert after and {r.status_code for r in after} == {200}

    logs = app.logs()
    assert "Traceback" not in logs
    lines = log_lines(app)
    assert not [line for line in lines if line["level"].lower() in ("error", "critical")]
    assert [line for line in lines if line["message"] == "database_unavailable"]


def test_a_pooled_connection_the_server_closed_is_replaced_without_a_round_trip(
    ops_database_url, tmp_path
):
    """What makes a restart cheap: a connection PostgreSQL ended while it sat in the pool is
    noticed when taken out (its socket is readable) and replaced, with no SELECT 1 first."""
    app = create_app(app_config_for(ops_database_url, tmp_path))
    client = app.test_client()  # each request in its own app context, as when served
    with app.app_context():
        engine = db.engine
    try:
        assert client.get("/health/db").status_code == 200
        assert engine.pool.checkedin() == 1
        with engine.connect() as conn:  # that connection, out of the pool and back
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        killer = create_engine(ops_database_url, poolclass=NullPool)
        with killer.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        time.sleep(0.1)  # the server's goodbye reaches the socket

        statements = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        answer = client.get("/health/db")

        assert answer.status_code == 200, answer.get_json()
        assert statements == ["SELECT 1"]  # the health check's own, no ping before it
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()


# -- Redis goes away --------------------------------------------------------------------------


def test_a_lost_redis_gives_no_5xx_and_limits_count_per_process_until_it_is_back(
    ops_database_url, tmp_path
):
    """Production mode, two workers. Without Redis each process counts on its own (a warning
    logged): 10 failed sign-ins a minute per process instead of 10 in all. When Redis is back
    (same address) the processes count there again."""
    with redis_server() as redis:
        app = Gunicorn.create(
            "app",
            tmp_path,
            portal_environment(
                PORTAL_ENV="production",
                DATABASE_URL=ops_database_url,
                PORTAL_BASE_URL="http://portal.test",
                MAIL_BACKEND="file",
                MAIL_FILE_DIR=tmp_path / "mail",
                RATELIMIT_STORAGE_URI=redis.url,
            ),
        ).start()
        login = f"{app.url}/api/v1/auth/login"

        def fail_to_sign_in(n: int) -> int:
            wrong = {"email": f"nobody{n}@example.com", "password": "wrong"}
            return requests.post(login, json=wrong, timeout=10).status_code

        try:
            assert [fail_to_sign_in(n) for n in range(3)] == [401] * 3
            with redis.client() as conn:
                assert conn.dbsize() > 0

            redis.kill()
            answers, pages = [], []
            for n in range(40):
                answers.append(fail_to_sign_in(n))
                pages.append(requests.get(f"{app.url}/signin", timeout=10).status_code)

            # Each of the 2 processes lets 10 through, wherever the requests land; no 5xx.
            assert answers[:10] == [401] * 10
            assert 10 <= answers.count(401) <= 20
            assert answers.count(429) == 40 - answers.count(401)
            assert set(pages) == {200}
            warnings = [
                line
                for line in log_lines(app)
                if line["level"].lower() == "warning" and "in-memory" in line["message"]
            ]
            assert warnings
            assert "Traceback" not in app.logs()

            again = subprocess.Popen(  # noqa: S603 - the helper's own command, same port
                [shutil.which("redis-server"), "--port", str(redis.port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:

                def counted_in_redis():
                    fail_to_sign_in(99)
                    with redis.client() as conn:
                        return conn.dbsize() > 0

                wait_for(counted_in_redis, timeout=20, interval=0.25, what="Redis counting again")
            finally:
                again.terminate()
                again.wait(timeout=10)
        finally:
            app.stop()
            empty_tables(ops_database_url)


# -- Resend is down ---------------------------------------------------------------------------


@pytest.fixture
def fake_resend(monkeypatch):
    """The worker talks to a fake Resend. The SDK reads RESEND_API_URL when imported, so in
    this process its module value is set; it gives up on a request after 0.15 s here."""
    with FakeResend(slow_seconds=0.5) as fake:
        monkeypatch.setattr(resend, "api_url", fake.url)
        monkeypatch.setattr(mail, "RESEND_TIMEOUT", 0.15)
        yield fake


def test_emails_queued_while_resend_fails_go_out_once_when_it_recovers(
    ops_database_url, fake_resend, tmp_path
):
    """Six sign-ups while Resend answers 500s, then times out (it got the emails, the worker
    heard nothing), then recovers: each confirmation goes out exactly once (one idempotency
    key per message, every try). Two more whose codes expire during a longer outage are
    dropped, never sent late."""
    served = Gunicorn.create(
        "app",
        tmp_path,
        portal_environment(
            PORTAL_ENV="development",
            DATABASE_URL=ops_database_url,
            PORTAL_BASE_URL="http://portal.test",
            MAIL_BACKEND="file",
            MAIL_FILE_DIR=tmp_path / "mail",
            MAIL_DELIVERY="worker",
        ),
    ).start()

    def sign_up(name: str) -> None:
        answer = requests.post(
            f"{served.url}/api/v1/auth/register",
            json={"email": f"{name}@example.com", "username": name, "password": STRONG_PASSWORD},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text

    def rows(kind: str = "verify_email") -> list[OutboxMessage]:
        db.session.expire_all()
        return db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        ).all()

    worker = app_on(  # the same SECRET_KEY as the app: it opens what the app sealed
        ops_database_url,
        tmp_path,
        SECRET_KEY=SECRET_KEY,
        MAIL_BACKEND="resend",
        RESEND_API_KEY="re_test_key",
        MAIL_DELIVERY="worker",
    )
    try:
        with worker:
            fake_resend.mode = "error"
            for n in range(6):
                sign_up(f"early{n}")
            outbox.worker_loop(once=True)  # runs the sign-up jobs, then tries each email
            assert len(rows()) == 6
            assert {(r.status, r.attempts) for r in rows()} == {("pending", 1)}

            clock.advance(timedelta(minutes=1))  # past the first backoff (at most 45 s)
            fake_resend.mode = "slow"
            outbox.worker_loop(once=True)
            assert {(r.status, r.attempts) for r in rows()} == {("pending", 2)}

            fake_resend.mode = "ok"
            for _ in range(3):  # a try that is slow by chance waits its backoff (<= 3 min)
                clock.advance(timedelta(minutes=3))  # past the second backoff (<= 90 s)
                outbox.worker_loop(once=True)
                if all(r.status == "sent" for r in rows()):
                    break
            delivered = rows()
            assert {r.status for r in delivered} == {"sent"}
            time.sleep(fake_resend.slow_seconds)  # slow answers still on their way

            keys = {r.idempotency_key for r in delivered}
            assert set(fake_resend.sent) == keys  # sent once each: no second key for one row
            recipients = Counter(m["to"][0] for m in fake_resend.sent.values())
            assert recipients == Counter(f"early{n}@example.com" for n in range(6))
            modes = Counter(mode for mode, _ in fake_resend.requests)
            assert modes["error"] >= 6 and modes["slow"] >= 6

            # A longer outage: these codes die (15 minutes) before Resend is back.
            fake_resend.mode = "error"
            sign_up("late0")
            sign_up("late1")
            outbox.worker_loop(once=True)
            for _ in range(4):
                clock.advance(timedelta(minutes=5))
                outbox.worker_loop(once=True)
            fake_resend.mode = "ok"
            clock.advance(timedelta(hours=1))
            outbox.worker_loop(once=True)

            late = [r for r in rows() if r.recipient.startswith("late")]
            assert [r.status for r in late] == ["dropped", "dropped"]
            assert all(r.payload is None for r in late)  # the code is gone with it
            assert set(fake_resend.sent) == keys  # nothing more went out
    finally:
        served.stop()
        clock.reset()
        empty_tables(ops_database_url)
