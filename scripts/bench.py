"""`make bench`: the portal under load, for operators sizing a deployment.

Seeds a PostgreSQL database per scale (kept between runs: seeding is done once), serves each
with gunicorn (-w 2 sync, rate limits off so that login measures login), drives every route
with wrk (-t2 -c16) in interleaved rounds and prints rps, p50 and p99 per route and scale.

    make bench                      # 10,000 users (50,000 sessions)
    make bench SCALE=1000000        # 10,000 and 1,000,000 users (5,000,000 sessions), one run

Routes: GET /health, GET /api/v1/users/me, GET /api/v1/sessions, GET /sessions (page),
GET /admin/?q=user1 (HTMX fragment), POST /api/v1/auth/login (argon2id at OWASP parameters,
from a known device). With USER_SESSIONS=1000 the Sessions routes also run, in the same
rounds, for an account that has signed in a thousand times (the cap keeps its 100 most
recently used sessions active; the rest were ended by its sign-ins and stay until pruned).

Environment: BENCH_PG (postgresql+psycopg://postgres@127.0.0.1:5432), DURATION (3 s per
run), ROUNDS (2), USER_SESSIONS (2). Never part of `make test`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing

import requests
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "purple elephant paints quietly 7"
ADMIN_PASSWORD = "correct horse battery staple 42"
BASE_SCALE = 10_000
SESSIONS_PER_USER = 5  # 50,000 sessions at 10,000 users, 5,000,000 at 1,000,000


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(scale: int) -> str:
    base = make_url(os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432"))
    return base.set(database=f"portal_bench_{scale}").render_as_string(hide_password=False)


def seeding(what: str) -> float:
    print(f"seeding {what} ...", flush=True)
    return time.monotonic()


def seed(scale: int, user_sessions: int) -> str:
    """A migrated database with `scale` users and 5 sessions each, kept for the next run;
    the benchmark accounts are made fresh each time."""
    url = database_url(scale)
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": make_url(url).database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
    admin.dispose()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        have = conn.scalar(text("SELECT count(*) FROM users WHERE email LIKE 'user%@example.com'"))
        if have < scale:
            started = seeding(f"{scale:,} users")
            conn.execute(
                text(
                    "INSERT INTO users (id, email, username, password_hash, is_verified, "
                    "is_admin, is_active, created_at, updated_at) SELECT gen_random_uuid(), "
                    "'user' || g || '@example.com', 'user' || g, 'x', true, false, true, "
                    "now(), now() FROM generate_series(CAST(:start AS int), CAST(:end AS int)) g"
                ),
                {"start": have + 1, "end": scale},
            )
            print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
        # Sessions at every scale, so that PostgreSQL plans the lists as on a real table (on
        # a table holding little but the benchmark accounts' sessions, it reads it whole).
        seeded = conn.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = "
                "(SELECT id FROM users WHERE email = :last))"
            ),
            {"last": f"user{scale}@example.com"},
        )
        if not seeded:
            started = seeding(f"{SESSIONS_PER_USER * scale:,} sessions")
            conn.execute(
                text(
                    "INSERT INTO sessions (id, user_id, kind, user_agent, device_label, "
                    "ip_address, created_at, last_seen_at, expires_at, reauth_failures) "
                    "SELECT gen_random_uuid(), u.id, 'web', '', 'Seeded', '198.51.100.1', "
                    "now() - s * interval '1 minute', now(), now() + interval '2 days', 0 "
                    "FROM users u CROSS JOIN generate_series(1, CAST(:n AS int)) s "
                    "WHERE u.email LIKE 'user%@example.com' "
                    "AND NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = u.id)"
                ),
                {"n": SESSIONS_PER_USER},
            )
            print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
        conn.execute(
            text(
                "DELETE FROM users WHERE email IN ('me@bench.test', 'login@bench.test', "
                "'admin@bench.test', 'many@bench.test')"
            )
        )
        hashed = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        for email, name, password, is_admin in (
            ("me@bench.test", "benchme", PASSWORD, False),
            ("login@bench.test", "benchlogin", PASSWORD, False),
            ("admin@bench.test", "benchadmin", ADMIN_PASSWORD, True),
            ("many@bench.test", "benchmany", PASSWORD, False),
        ):
            conn.execute(
                text(
                    "INSERT INTO users (id, email, username, password_hash, is_verified, "
                    "is_admin, is_active, created_at, updated_at) VALUES (gen_random_uuid(), "
                    ":email, :name, :hash, true, :admin, true, now(), now())"
                ),
                {"email": email, "name": name, "hash": hashed.hash(password), "admin": is_admin},
            )
        # me: 2 sessions (the API's and the page's); many: USER_SESSIONS, for the sessions
        # routes side by side with me's in the same run. Seeded as the history of that many
        # sign-ins: the cap (MAX_ACTIVE_SESSIONS, 100) ended all but the 100 most recent,
        # the two sign-ins below make the last two.
        for email, count in (("me@bench.test", 2), ("many@bench.test", user_sessions)):
            conn.execute(
                text(
                    "INSERT INTO sessions (id, user_id, kind, user_agent, device_label, "
                    "ip_address, created_at, last_seen_at, expires_at, revoked_at, "
                    "revoked_reason, reauth_failures) "
                    "SELECT gen_random_uuid(), u.id, 'api', '', 'Seeded', '198.51.100.1', "
                    "now() - s * interval '1 minute', now(), now() + interval '2 days', "
                    "CASE WHEN s > 98 THEN now() - (s - 98) * interval '1 minute' END, "
                    "CASE WHEN s > 98 THEN 'Too many active sessions' END, 0 "
                    "FROM users u CROSS JOIN generate_series(1, CAST(:n AS int)) s "
                    "WHERE u.email = :email"
                ),
                {"n": count - 2, "email": email},
            )
    # The statistics and the visibility map as autovacuum keeps them on a running server
    # (it may be off on a benchmark machine, and this database is kept between runs, its
    # benchmark accounts deleted and made again each time). Without it PostgreSQL may plan
    # the list of an account's active sessions by stale counts.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) sessions, users"))
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return url


def serve(url: str, workdir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    shim = os.path.join(workdir, f"wsgi_{port}.py")
    with open(shim, "w") as fh:
        fh.write("from portal import create_app\napp = create_app({'RATELIMIT_ENABLED': False})\n")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret-key-bench-secret-key-0123456789abcdef",
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": os.path.join(workdir, "mail"),
        "MAIL_DELIVERY": "worker",  # as in production: the request only queues
        "PORTAL_ENV": "development",
    }
    process = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "--chdir",
            workdir,
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--preload",
            "--log-level",
            "warning",
            f"wsgi_{port}:app",
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, f"gunicorn_{port}.log"), "w"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{base}/health", timeout=1).ok:
                return process, base
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start; see {workdir}")


def sign_in(base: str) -> dict:
    def token(email: str) -> str:
        return requests.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
        ).json()["access_token"]

    login = requests.post(
        f"{base}/api/v1/auth/login",
        json={"email": "login@bench.test", "password": PASSWORD},
        timeout=30,
    ).json()

    def cookie(email: str, password: str) -> str:
        browser = requests.Session()
        page = browser.get(f"{base}/signin").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        response = browser.post(
            f"{base}/signin",
            data={"login": email, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status_code == 303, response.text[:300]
        return "; ".join(f"{c.name}={c.value}" for c in browser.cookies)

    return {
        "access": token("me@bench.test"),
        "login_device": login["device_token"],
        "cookie": cookie("me@bench.test", PASSWORD),
        "admin_cookie": cookie("admin@bench.test", ADMIN_PASSWORD),
        "many_access": token("many@bench.test"),
        "many_cookie": cookie("many@bench.test", PASSWORD),
    }


def routes(base: str, creds: dict, user_sessions: int) -> list[dict]:
    """The routes in the order they run in each round. The Sessions routes of the account
    with USER_SESSIONS run right after the same routes of the account with 2, so that each
    pair is compared within the same minute (after sign-in's burst of writes, PostgreSQL
    may be busy with its own housekeeping for a while)."""
    bearer = {"Authorization": f"Bearer {creds['access']}"}
    api_sessions = {"name": "GET /api/v1/sessions", "url": f"{base}/api/v1/sessions"}
    page_sessions = {"name": "GET /sessions", "url": f"{base}/sessions"}

    def many(route: dict, headers: dict) -> list[dict]:
        if user_sessions <= 2:
            return []
        name = f"{route['name']} ({user_sessions:,})"
        return [{**route, "name": name, "headers": headers, "against": route["name"]}]

    return [
        {"name": "GET /health", "url": f"{base}/health"},
        {"name": "GET /api/v1/users/me", "url": f"{base}/api/v1/users/me", "headers": bearer},
        {**api_sessions, "headers": bearer},
        *many(api_sessions, {"Authorization": f"Bearer {creds['many_access']}"}),
        {**page_sessions, "headers": {"Cookie": creds["cookie"]}},
        *many(page_sessions, {"Cookie": creds["many_cookie"]}),
        {
            "name": "GET /admin/?q=user1 (HTMX)",
            "url": f"{base}/admin/?q=user1",
            "headers": {"Cookie": creds["admin_cookie"], "HX-Request": "true"},
        },
        {
            "name": "POST /api/v1/auth/login",
            "url": f"{base}/api/v1/auth/login",
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(
                {
                    "email": "login@bench.test",
                    "password": PASSWORD,
                    "device_token": creds["login_device"],
                }
            ),
        },
    ]


# Every answer but a 200 counts as an error (a redirect to sign-in is fast, and would look
# like speed); each wrk thread counts its own, `done` adds them up.
LUA = """
wrk.method = "{method}"
{headers}
{body}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) not_ok = 0 end
function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
done = function(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("not_ok") end
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), bad))
end
"""


def run_wrk(route: dict, duration: int, workdir: str) -> dict:
    headers = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
        for k, v in route.get("headers", {}).items()
    )
    body = f"wrk.body = {json.dumps(route['body'])}" if route.get("body") else ""
    script = os.path.join(workdir, "route.lua")
    with open(script, "w") as fh:
        fh.write(LUA.format(method=route.get("method", "GET"), headers=headers, body=body))
    output = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration}s", "-s", script, route["url"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    done, micros, p50, p99, not_ok = map(int, found.groups())
    return {"rps": done / (micros / 1e6), "p50": p50 / 1000, "p99": p99 / 1000, "errors": not_ok}


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk (make bench does it)")
    scale = int(os.environ.get("SCALE", BASE_SCALE))
    scales = sorted({BASE_SCALE, scale})
    duration = int(os.environ.get("DURATION", 3))
    rounds = int(os.environ.get("ROUNDS", 2))
    user_sessions = int(os.environ.get("USER_SESSIONS", 2))
    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    servers = []
    try:
        targets = {}
        for each in scales:
            url = seed(each, user_sessions)
            process, base = serve(url, workdir)
            servers.append(process)
            targets[each] = routes(base, sign_in(base), user_sessions)
        started = time.monotonic()
        results: dict = {}
        for _round in range(rounds):
            for index in range(len(targets[scales[0]])):
                for each in scales:  # interleaved: both scales see the same minute
                    route = targets[each][index]
                    results.setdefault((route["name"], each), []).append(
                        run_wrk(route, duration, workdir)
                    )
        print(f"\n{rounds} rounds of {duration} s per route, in {time.monotonic() - started:.0f} s")
        print(f"{'route':32} {'users':>10} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'not 200':>7}")
        median = {
            key: sorted(r["rps"] for r in runs)[len(runs) // 2] for key, runs in results.items()
        }
        against = {route["name"]: route.get("against") for route in targets[scales[0]]}
        for (name, each), runs in results.items():
            rps = median[(name, each)]
            p50 = sorted(r["p50"] for r in runs)[len(runs) // 2]
            p99 = max(r["p99"] for r in runs)
            errors = sum(r["errors"] for r in runs)
            line = f"{name:32} {each:>10,} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7}"
            if against[name]:  # the same route for the account with 2 sessions
                line += f"   {rps / median[(against[name], each)]:.2f} x 2 sessions"
            print(line)
    finally:
        for process in servers:
            os.killpg(process.pid, signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
