"""GET /metrics (README "Operations"): Prometheus text, guarded by METRICS_TOKEN, off when
unset; requests by route (never the path) and status; account activity and the outbox
counted on commit; the queue's age read at scrape time; right across gunicorn workers."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
import requests
from db_helpers import app_config_for, database_url_for, migrate_fresh
from ops_helpers import BEARER, METRICS_TOKEN, free_port
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from web_helpers import PASSWORD, last_code

from portal import ROOT, clock, create_app, metrics
from portal import outbox as delivery
from portal.email import EmailError
from portal.extensions import db
from portal.flows import admin as admin_flows
from portal.flows import events
from portal.models import User, UserSession
from portal.origin import Origin
from portal.passwords import hash_password


@pytest.fixture
def app_config():
    return {"METRICS_TOKEN": METRICS_TOKEN}


def value(name: str, **labels) -> float:
    """This process's current value of a sample (0 when never counted)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def samples(text: str) -> dict[tuple, float]:
    """A scrape as {(sample name, frozenset of labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client) -> str:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


# -- the endpoint -----------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(make_app):
    off = make_app(METRICS_TOKEN=None)
    response = off.test_client().get("/metrics", headers=BEARER)
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer"],
)
def test_metrics_need_the_bearer_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "portal_" not in response.get_data(as_text=True)


def test_metrics_answer_in_prometheus_text_format(client):
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=0.0.4" in response.headers["Content-Type"]
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "portal_http_requests",
        "portal_http_request_duration_seconds",
        "portal_sign_ins",
        "portal_outbox_oldest_pending_seconds",
    } <= names


def test_a_short_metrics_token_is_refused_in_production(make_app):
    from portal.config import ConfigError

    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        make_app(PORTAL_ENV="production", METRICS_TOKEN="short")  # noqa: S106


# -- requests ---------------------------------------------------------------------------------


def test_requests_count_by_route_and_status_never_by_path(client):
    labels = {"method": "GET", "route": "/reset/<token>"}
    response = client.get("/reset/SECRETTOKENSECRETTOKENSECRETTOKEN")
    status = str(response.status_code)
    before = value("portal_http_requests_total", **labels, status=status)
    count_before = value("portal_http_request_duration_seconds_count", **labels, status=status)

    client.get("/reset/ANOTHERSECRETANOTHERSECRETANOTHER")

    assert value("portal_http_requests_total", **labels, status=status) == before + 1
    assert (
        value("portal_http_request_duration_seconds_count", **labels, status=status)
        == count_before + 1
    )
    text = scrape(client)
    assert 'route="/reset/<token>"' in text
    assert "SECRET" not in text


def test_unknown_addresses_share_one_route_label(client):
    before = value("portal_http_requests_total", method="GET", route="unmatched", status="404")
    client.get(f"/no-such-page-{uuid.uuid4().hex}")
    client.get(f"/another-{uuid.uuid4().hex}")
    after = value("portal_http_requests_total", method="GET", route="unmatched", status="404")
    assert after == before + 2
    client.open("/signin", method="BREW")  # a client's made-up method is not a label value
    assert 'method="BREW"' not in scrape(client)


@pytest.mark.parametrize(
    "path", ["/health", "/health/db", "/health/queue", "/metrics", "/static/portal.css"]
)
def test_health_checks_scrapes_and_static_files_are_not_counted(client, path):
    def requests_counted() -> dict:
        return {k: v for k, v in samples(scrape(client)).items() if "_http_" in k[0]}

    client.get("/signin")
    before = requests_counted()
    for _ in range(3):
        assert client.get(path, headers=BEARER).status_code == 200
    assert requests_counted() == before
    assert not [k for k in before if "/health" in str(k) or "/metrics" in str(k)]
    assert not [k for k in before if "/static" in str(k)]


def test_requests_cost_no_query_and_a_scrape_one(client, count_queries):
    client.get("/signin")
    with count_queries() as statements:
        client.get("/signin")
    assert not [s for s in statements if "outbox" in s.lower()]
    with count_queries() as statements:
        scrape(client)
    assert len([s for s in statements if "outbox" in s.lower()]) == 1


def test_counting_a_request_takes_microseconds(app):
    """The per-request cost: one counter and one histogram, no I/O (measured, loosely)."""
    with app.test_request_context("/signin"):
        from flask import g

        g.request_started = time.perf_counter()
        response = app.response_class("ok")
        rounds = 2000
        started = time.perf_counter()
        for _ in range(rounds):
            metrics._observe_request(response)
        per_request = (time.perf_counter() - started) / rounds
    assert per_request < 0.0005, f"{per_request * 1e6:.0f} µs per request"


# -- account activity -------------------------------------------------------------------------


def test_sign_ups_codes_and_sign_ins_are_counted(browser, user, outbox):
    ok, failed = (value("portal_sign_ins_total", result=r) for r in ("ok", "failed"))
    sign_ups = value("portal_sign_ups_total")
    codes = value("portal_codes_sent_total", kind="verify_email")
    queued = value("portal_emails_queued_total", kind="verify_email")
    sent = value("portal_emails_processed_total", kind="verify_email", status="sent")

    browser.sign_up()
    browser.verify(last_code(outbox))
    browser.sign_out()
    browser.post("/signin", {"login": "alice@example.com", "password": "not the password"})
    browser.post("/signin", {"login": "nobody@example.com", "password": "not the password"})
    browser.sign_in()

    assert value("portal_sign_ups_total") == sign_ups + 1
    assert value("portal_codes_sent_total", kind="verify_email") == codes + 1
    assert value("portal_emails_queued_total", kind="verify_email") == queued + 1
    assert value("portal_emails_processed_total", kind="verify_email", status="sent") == sent + 1
    assert value("portal_sign_ins_total", result="ok") == ok + 2  # the sign-up's, and alice's
    assert value("portal_sign_ins_total", result="failed") == failed + 2


def test_a_rolled_back_change_counts_nothing(app, user):
    before = value("portal_sign_ins_total", result="ok")
    with app.test_request_context("/"):
        events.record("signed_in", user)
        db.session.rollback()
        db.session.commit()
    assert value("portal_sign_ins_total", result="ok") == before
    with app.test_request_context("/"):
        events.record("signed_in", user)
        db.session.commit()
    assert value("portal_sign_ins_total", result="ok") == before + 1


def test_every_tripped_guessing_budget_is_counted(browser, user):
    """Each trip counts (the owner is told only once a day), unknown logins' too."""
    tripped = "portal_guessing_budgets_tripped_total"
    before = value(tripped, budget="user"), value(tripped, budget="login")
    for login in ("alice", "nobody"):
        for _ in range(12):
            response = browser.post("/signin", {"login": login, "password": "wrong guess"})
            if response.status_code == 429:
                break
        assert response.status_code == 429
    clock.advance(timedelta(minutes=15, seconds=1))
    for _ in range(10):
        browser.post("/signin", {"login": "alice", "password": "wrong guess"})
    assert value(tripped, budget="user") == before[0] + 2
    assert value(tripped, budget="login") == before[1] + 1


def test_refresh_token_reuse_is_counted(client, user):
    before = value("portal_refresh_token_reuse_total")
    login = client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
    old = login.get_json()["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": old}).status_code == 200
    clock.advance(timedelta(seconds=30))
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": old}).status_code == 401
    assert value("portal_refresh_token_reuse_total") == before + 1


def test_sessions_ended_by_admins_are_counted(app, client, user, make_user):
    admin = make_user(email="root@example.com", username="root", admin=True)
    for _ in range(3):
        client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
    before = value("portal_sessions_ended_by_admins_total")
    with app.test_request_context("/"):
        one = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).first()
        admin_flows.end_user_session(admin, user.id, one.id, "lost phone", Origin())
        assert value("portal_sessions_ended_by_admins_total") == before + 1
        assert admin_flows.end_all_user_sessions(admin, user.id, "stolen", Origin()) == 2
    assert value("portal_sessions_ended_by_admins_total") == before + 3
    client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
    with app.test_request_context("/"):
        assert admin_flows.disable_user(admin, user.id, Origin(), "abuse") == 1
    assert value("portal_sessions_ended_by_admins_total") == before + 4
    with app.test_request_context("/"):  # the owner ending their own is not an admin's
        admin_flows.enable_user(admin, user.id, Origin())
    for _ in range(2):
        login = client.post("/api/v1/auth/login", json={"email": "alice", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    sessions = client.get("/api/v1/sessions", headers=bearer).get_json()["sessions"]
    [other] = [s["id"] for s in sessions if not s["is_current"]]
    assert client.delete(f"/api/v1/sessions/{other}", headers=bearer).status_code == 204
    assert value("portal_sessions_ended_by_admins_total") == before + 4


# -- the outbox -------------------------------------------------------------------------------


def test_dropped_and_failed_emails_are_counted(app, user, monkeypatch):
    dropped = value("portal_emails_processed_total", kind="verify_email", status="dropped")
    failed = value("portal_emails_processed_total", kind="account_exists", status="failed")
    with app.app_context():
        delivery.enqueue_email(
            "alice@example.com",
            "verify_email",
            expires_at=clock.utcnow() - timedelta(minutes=1),
            code="123456",
            username="alice",
        )
        db.session.commit()
        assert delivery.deliver_due() == 1
    assert (
        value("portal_emails_processed_total", kind="verify_email", status="dropped") == dropped + 1
    )

    def refuse(message, idempotency_key=None):
        raise EmailError("Resend answered 500")

    monkeypatch.setattr(delivery, "deliver", refuse)
    with app.app_context():
        delivery.enqueue_email("alice@example.com", "account_exists", user=user)
        db.session.commit()
        clock.advance(timedelta(hours=24))  # past the retry window: the next failure is final
        assert delivery.deliver_due() == 1
    assert (
        value("portal_emails_processed_total", kind="account_exists", status="failed") == failed + 1
    )


def test_the_queue_age_is_read_at_scrape_time(app, client, user):
    def age() -> float:
        return samples(scrape(client))[("portal_outbox_oldest_pending_seconds", frozenset())]

    assert age() == 0
    with app.app_context():
        delivery.enqueue_email("alice@example.com", "account_exists", user=user)
        db.session.commit()
    clock.advance(timedelta(seconds=90))
    assert 89 <= age() <= 95


def test_the_mail_worker_serves_its_own_counts(make_app):
    worker = make_app(
        METRICS_TOKEN=METRICS_TOKEN, METRICS_WORKER_PORT="127.0.0.1:0", MAIL_DELIVERY="worker"
    )
    thread = metrics.serve_worker(worker)
    try:
        url = f"http://127.0.0.1:{thread.server.server_port}/metrics"
        assert requests.get(url, timeout=5).status_code == 401
        assert (
            requests.get(url, headers={"Authorization": "Bearer no"}, timeout=5).status_code == 401
        )
        response = requests.get(url, headers=BEARER, timeout=5)
        assert response.status_code == 200
        assert "portal_emails_processed" in response.text
        assert requests.get(url + "x", headers=BEARER, timeout=5).status_code == 404
    finally:
        thread.server.shutdown()
        thread.server.server_close()


def test_the_mail_worker_serves_nothing_unless_asked(make_app):
    assert metrics.serve_worker(make_app(METRICS_WORKER_PORT=None)) is None
    assert metrics.serve_worker(make_app(METRICS_WORKER_PORT="9100")) is None  # no token


def test_a_busy_metrics_port_never_stops_the_mail_worker(make_app, caplog):
    port = free_port()
    busy = make_app(METRICS_TOKEN=METRICS_TOKEN, METRICS_WORKER_PORT=f"127.0.0.1:{port}")
    first = metrics.serve_worker(busy)
    try:
        assert metrics.serve_worker(busy) is None
        assert "worker_metrics_not_served" in caplog.messages
    finally:
        first.server.shutdown()
        first.server.server_close()


# -- several gunicorn workers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def served_database_url(tmp_path_factory) -> str:
    """<test database>_metrics, emptied and migrated once (real commits: gunicorn serves it)."""
    url = database_url_for("metrics")
    migrate_fresh(url, tmp_path_factory.mktemp("metrics-migrate"))
    return url


@pytest.fixture
def gunicorn(served_database_url, tmp_path):
    """The portal as production serves it: gunicorn, 2 workers, PROMETHEUS_MULTIPROC_DIR."""
    port = free_port()
    multiproc = tmp_path / "prometheus"
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "DATABASE_URL": served_database_url,
        "SECRET_KEY": "served-secret-key-that-is-long-enough-0123456789",
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
        + ["--no-control-socket", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # listening before its workers have booted
                pass
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.1)
        yield base, multiproc
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def served_user(served_database_url, tmp_path):
    """A verified account on the served database (cheap hash: argon2 reads its own cost)."""
    app = create_app(app_config_for(served_database_url, tmp_path))
    name = f"served{uuid.uuid4().hex[:8]}"
    with app.app_context():
        db.session.add(
            User(
                id=uuid.uuid4(),
                email=f"{name}@example.com",
                username=name,
                password_hash=hash_password(PASSWORD),
                is_verified=True,
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return f"{name}@example.com"


def _signin_counts_per_worker(multiproc) -> dict[str, float]:
    """GET /signin as each worker counted it, read from its own file."""
    counts = {}
    for path in multiproc.glob("counter_*.db"):
        counts[path.name] = sum(
            count
            for key, count, _, _ in MmapedDict.read_all_values_from_file(str(path))
            if json.loads(key)[0] == "portal_http_requests" and '"/signin"' in key
        )
    return counts


def _concurrently(base, jobs, threads=8) -> list[int]:
    answers: list[int] = []
    lock = threading.Lock()

    def run(chunk):
        for method, path, body in chunk:
            # A new connection per request: each is accepted by whichever worker is free.
            response = requests.request(
                method, base + path, json=body, headers={"Connection": "close"}, timeout=30
            )
            with lock:
                answers.append(response.status_code)

    workers = [threading.Thread(target=run, args=(jobs[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return answers


def test_counts_add_up_across_gunicorn_workers(gunicorn, served_user):
    base, multiproc = gunicorn
    # Both workers up (each writes its file on start), not only the first one to answer.
    deadline = time.monotonic() + 30
    while len(list(multiproc.glob("counter_*.db"))) < 2:
        assert time.monotonic() < deadline, "the second worker did not start"
        time.sleep(0.1)
    time.sleep(0.5)

    failed_logins = 6
    jobs = [
        ("POST", "/api/v1/auth/login", {"email": f"nobody{i}@example.com", "password": "wrong"})
        for i in range(failed_logins)
    ]
    jobs += [("POST", "/api/v1/auth/login", {"email": served_user, "password": PASSWORD})]
    jobs += [("GET", "/health", None)] * 10
    answers = _concurrently(base, jobs)
    assert sorted(answers) == sorted([200] * 11 + [401] * failed_logins)
    # Pages until both workers have served some (which one accepts is the kernel's choice).
    pages = 0
    for _ in range(5):
        assert _concurrently(base, [("GET", "/signin", None)] * 40) == [200] * 40
        pages += 40
        if all(_signin_counts_per_worker(multiproc).values()):
            break
    per_worker = _signin_counts_per_worker(multiproc)
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    assert sum(per_worker.values()) == pages

    # Every scrape, whichever worker answers it, tells the sum of both.
    for _ in range(6):
        response = requests.get(f"{base}/metrics", headers=BEARER, timeout=10)
        assert response.status_code == 200
        seen = samples(response.text)
        key = frozenset({"method": "GET", "route": "/signin", "status": "200"}.items())
        assert seen[("portal_http_requests_total", key)] == pages
        assert seen[("portal_http_request_duration_seconds_count", key)] == pages
        assert seen[("portal_sign_ins_total", frozenset({"result": "failed"}.items()))] == (
            failed_logins
        )
        assert seen[("portal_sign_ins_total", frozenset({"result": "ok"}.items()))] == 1
        assert not [k for k in seen if "/health" in str(k) or "/metrics" in str(k)]
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
