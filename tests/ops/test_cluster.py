"""What docker-compose.yml runs, run natively: Debian's nginx (deploy/nginx/portal.conf.template)
in front of two gunicorn app servers on one PostgreSQL database and one Redis of the test's
own. Many app processes share everything through PostgreSQL and Redis (README "Operations"):
a session ended on one is refused by all, a limit counted on one holds on all, and losing one
loses no request nginx can retry and nothing written.

The app servers run in development mode: production marks cookies Secure, which an HTTP
client rightly keeps off plain http://127.0.0.1 (compose puts TLS in front). Everything else
is as in production: PROXY_FIX_HOPS=1, counters in Redis, mail left to the worker."""

import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests
from redis_helpers import RedisServer, redis_server
from requests.adapters import HTTPAdapter
from servers import (
    Gunicorn,
    Nginx,
    add_user,
    app_on,
    empty_tables,
    portal_environment,
    wait_for,
)
from sqlalchemy import select
from web_helpers import PASSWORD, csrf_token_in

from portal import clock
from portal.extensions import db
from portal.models import UserSession

EMAIL = "ops@example.com"


@dataclass
class Cluster:
    apps: list[Gunicorn]
    nginx: Nginx
    redis: RedisServer
    database_url: str

    def app_behind(self, upstream: str) -> Gunicorn:
        """The app server nginx logged as `upstream` (the last one when it tried several)."""
        port = int(upstream.split(",")[-1].strip().rsplit(":", 1)[1])
        return next(app for app in self.apps if app.port == port)

    def other_than(self, app: Gunicorn) -> Gunicorn:
        return next(other for other in self.apps if other is not app)


@pytest.fixture(scope="module")
def cluster(ops_database_url, tmp_path_factory):
    logs = tmp_path_factory.mktemp("cluster")
    with redis_server() as redis:
        env = portal_environment(
            PORTAL_ENV="development",
            DATABASE_URL=ops_database_url,
            PORTAL_BASE_URL="http://portal.test",
            MAIL_BACKEND="file",
            MAIL_FILE_DIR=logs / "mail",
            MAIL_DELIVERY="worker",
            RATELIMIT_STORAGE_URI=redis.url,
            PROXY_FIX_HOPS=1,
        )
        apps = [Gunicorn.create(name, logs, env) for name in ("app1", "app2")]
        nginx = Nginx.create(logs / "nginx", [f"127.0.0.1:{app.port}" for app in apps])
        try:
            for app in apps:
                app.start()
            nginx.start()
            yield Cluster(apps, nginx, redis, ops_database_url)
        finally:
            nginx.stop(signal.SIGQUIT)
            for app in apps:
                app.stop()


@pytest.fixture(autouse=True)
def fresh(cluster, tmp_path):
    """Both app servers up (a test may stop one), then no rows and no counters left over."""
    for app in cluster.apps:
        if not app.running:
            app.start()
    add_user(cluster.database_url, tmp_path, EMAIL)
    yield
    empty_tables(cluster.database_url)
    cluster.redis.flush()


class FromAddress(HTTPAdapter):
    """Connections from this loopback address (127.0.0.0/8 is all ours), so the client nginx
    sees is not the 127.0.0.1 it forwards from."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def browser_from(address: str = "127.0.0.1") -> requests.Session:
    browser = requests.Session()
    browser.mount("http://", FromAddress(address))
    return browser


def sign_in(browser: requests.Session, base: str, **headers) -> None:
    page = browser.get(f"{base}/signin", headers=headers, timeout=10)
    answer = browser.post(
        f"{base}/signin",
        data={"login": EMAIL, "password": PASSWORD, "csrf_token": csrf_token_in(page.text)},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text


def sessions_of(url: str, tmp_path) -> list[UserSession]:
    with app_on(url, tmp_path):
        rows = db.session.scalars(select(UserSession).order_by(UserSession.created_at)).all()
        db.session.expunge_all()
        return rows


def refused(browser: requests.Session, url: str) -> bool:
    answer = browser.get(f"{url}/sessions", allow_redirects=False, timeout=10)
    return answer.status_code == 302 and "/signin" in answer.headers["Location"]


def test_a_session_ended_on_one_app_server_is_refused_on_both(cluster, tmp_path):
    stolen, mine = browser_from(), browser_from()
    sign_in(stolen, cluster.nginx.url)
    first = cluster.app_behind(cluster.nginx.upstreams_of("POST", "/signin")[-1])
    other = cluster.other_than(first)
    sign_in(mine, cluster.nginx.url)
    target = sessions_of(cluster.database_url, tmp_path)[0]

    # The owner ends the first session on the app server that did not start it.
    page = mine.get(f"{other.url}/sessions", timeout=10)
    assert f"session-{target.id}" in page.text
    ended = mine.post(
        f"{other.url}/sessions/{target.id}/end",
        data={"csrf_token": csrf_token_in(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert ended.status_code == 303

    assert refused(stolen, first.url)
    assert refused(stolen, other.url)
    assert refused(stolen, cluster.nginx.url)
    assert mine.get(f"{cluster.nginx.url}/sessions", timeout=10).status_code == 200


def test_an_api_session_ended_on_one_app_server_is_refused_on_both(cluster):
    api = f"{cluster.nginx.url}/api/v1"
    login = requests.post(
        f"{api}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    tokens = login.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    first = cluster.app_behind(cluster.nginx.upstreams_of("POST", "/api/v1/auth/login")[-1])
    other = cluster.other_than(first)
    listed = requests.get(f"{first.url}/api/v1/sessions", headers=bearer, timeout=10).json()[
        "sessions"
    ]

    ended = requests.delete(
        f"{other.url}/api/v1/sessions/{listed[0]['id']}", headers=bearer, timeout=10
    )

    assert ended.status_code == 204, ended.text
    for app in cluster.apps:
        answer = requests.get(f"{app.url}/api/v1/users/me", headers=bearer, timeout=10)
        assert answer.status_code == 401
        assert answer.json()["code"] == "session_ended"


def test_a_per_ip_limit_counts_across_both_app_servers(cluster):
    """10 failed API sign-ins a minute per client address, wherever they land; an
    X-Forwarded-For the client makes up changes nothing (nginx replaces it)."""
    attacker, bystander = browser_from("127.0.0.7"), browser_from("127.0.0.8")
    login = f"{cluster.nginx.url}/api/v1/auth/login"

    answers = [
        attacker.post(
            login,
            json={"email": f"nobody{n}@example.com", "password": "wrong"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            timeout=10,
        ).status_code
        for n in range(12)
    ]

    assert answers == [401] * 10 + [429] * 2
    upstreams = cluster.nginx.upstreams_of("POST", "/api/v1/auth/login")
    assert {cluster.app_behind(upstream).name for upstream in upstreams} == {"app1", "app2"}
    other = bystander.post(login, json={"email": "someone@example.com", "password": "wrong"})
    assert other.status_code == 401
    with cluster.redis.client() as redis:
        assert redis.dbsize() > 0


def test_the_sessions_page_shows_the_address_nginx_saw(cluster, tmp_path):
    browser = browser_from("127.0.0.7")
    made_up = {"X-Forwarded-For": "198.51.100.23"}
    sign_in(browser, cluster.nginx.url, **made_up)

    page = browser.get(f"{cluster.nginx.url}/sessions", headers=made_up, timeout=10)

    assert page.status_code == 200
    assert '<td data-label="IP address">127.0.0.7</td>' in page.text
    assert "198.51.100.23" not in page.text
    assert [s.ip_address for s in sessions_of(cluster.database_url, tmp_path)] == ["127.0.0.7"]
    assert "127.0.0.7 [" in cluster.nginx.logs()  # nginx logged the same client


def test_nginx_keeps_metrics_in_and_secrets_out_of_its_log(cluster):
    """/metrics is scraped per app process, never through the entrance; the request id
    goes from the edge to the app; reset links are logged without their token."""
    for path in ("/metrics", "/metrics?format=text", "//metrics", "/metrics/x"):
        answer = requests.get(f"{cluster.nginx.url}{path}", timeout=10)
        assert answer.status_code == 404, path
    assert set(cluster.nginx.upstreams_of("GET", "/metrics")) == {"-"}  # no app asked
    assert set(cluster.nginx.upstreams_of("GET", "/metrics/x")) == {"-"}

    asked = {"X-Request-ID": "edge-42"}
    given = requests.get(f"{cluster.nginx.url}/health", headers=asked, timeout=10)
    made = requests.get(f"{cluster.nginx.url}/signin", timeout=10)
    assert given.headers["X-Request-ID"] == "edge-42"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    # nginx writes its access line after the answer has gone out: wait for it to arrive.
    rid = f"rid={made.headers['X-Request-ID']}"
    wait_for(lambda: rid in cluster.nginx.logs(), timeout=5, what="the /signin line")

    token = "Zx9-secret-reset-token-" + uuid.uuid4().hex
    not_me_lines = cluster.nginx.logs().count('"GET /not-me/..."')
    requests.get(f"{cluster.nginx.url}/reset/{token}", timeout=10)
    requests.get(f"{cluster.nginx.url}/not-me/{token}?again=1", timeout=10)
    wait_for(
        lambda: cluster.nginx.logs().count('"GET /not-me/..."') > not_me_lines,
        timeout=5,
        what="the /not-me line",
    )
    assert token not in cluster.nginx.logs()
    assert '"GET /reset/..."' in cluster.nginx.logs()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_losing_an_app_server_mid_run_loses_no_get_and_nothing_written(cluster, tmp_path, stop):
    """GETs nginx retries on the other server; each sign-out the portal confirmed is in the
    database. A POST the dying server had already received is not repeated by nginx (502):
    the browser was told, and nothing half-done stays (one transaction per request)."""
    browser = browser_from()
    sign_in(browser, cluster.nginx.url)
    user_id = sessions_of(cluster.database_url, tmp_path)[0].user_id
    with app_on(cluster.database_url, tmp_path):
        others = [
            UserSession(
                id=uuid.uuid4(),
                user_id=user_id,
                kind="web",
                device_label=f"Laptop {n}",
                expires_at=clock.utcnow() + timedelta(days=1),
            )
            for n in range(40)
        ]
        db.session.add_all(others)
        db.session.commit()
        targets = [row.id for row in others]
    token = csrf_token_in(browser.get(f"{cluster.nginx.url}/sessions", timeout=10).text)
    victim = cluster.apps[0]
    reads: list[int] = []
    writes: dict[uuid.UUID, int] = {}
    done = threading.Event()

    def read():
        while not done.is_set():
            answer = browser.get(f"{cluster.nginx.url}/profile", timeout=30)
            reads.append(answer.status_code)

    def write():
        for session_id in targets:
            answer = browser.post(
                f"{cluster.nginx.url}/sessions/{session_id}/end",
                data={"csrf_token": token},
                allow_redirects=False,
                timeout=30,
            )
            writes[session_id] = answer.status_code
            time.sleep(0.02)
        done.set()

    threads = [threading.Thread(target=read) for _ in range(2)] + [threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    while len(writes) < 10:
        time.sleep(0.01)
    reads_before = len(reads)
    victim.stop(stop)
    for thread in threads:
        thread.join(timeout=60)

    assert not victim.running
    assert len(reads) > reads_before + 10  # reads went on while one server was gone
    tried_both = [u for u in cluster.nginx.upstreams_of("GET", "/profile") if "," in u]
    assert tried_both  # nginx found the server gone and asked the other one
    assert set(reads) == {200}, reads
    assert set(writes.values()) <= {303, 502}, writes
    assert list(writes.values()).count(502) <= 2  # at most one per worker of the dead one
    revoked = {row.id for row in sessions_of(cluster.database_url, tmp_path) if row.revoked_at}
    assert {sid for sid, status in writes.items() if status == 303} <= revoked
