"""The work of the hot paths, pinned: SQL statements per request (issue 9). A change that adds
a statement or a round trip to these fails here; speed itself is measured by the benchmark
(scripts/bench.py), never by timed tests."""

from datetime import timedelta

import pytest
from db_helpers import add_users, explain, sent_statements
from sqlalchemy import select
from web_helpers import PASSWORD

from portal import clock
from portal.extensions import db
from portal.models import Device


@pytest.fixture
def statements(count_queries):
    """The SQL of one request (a minute after the previous, so activity is written at most
    once and not counted here)."""

    def run(call) -> list[str]:
        call()  # warm: the session's last-seen time is written by this one, if at all
        db.session.expire_all()
        with count_queries() as queries:
            response = call()
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return [q.split()[0] for q in queries]

    return run


def test_users_me_is_one_select(api, tokens, statements):
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert statements(lambda: api.client.get("/api/v1/users/me", headers=headers)) == ["SELECT"]


def test_api_sessions_is_two_selects(api, tokens, statements):
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    made = statements(lambda: api.client.get("/api/v1/sessions", headers=headers))
    assert made == ["SELECT", "SELECT"]  # the session + user, then the page


def test_the_sessions_page_is_two_selects(auth, statements):
    assert statements(lambda: auth.get("/sessions")) == ["SELECT", "SELECT"]


def test_the_admin_search_fragment_is_two_selects(make_user, new_browser, statements, monkeypatch):
    """The session + user, then one page of the email run (it has more than a page)."""
    from portal.flows import activity

    for n in range(3):
        make_user(email=f"user{n}@example.com", username=f"user{n}")
    make_user(email="root@example.com", username="root", admin=True)
    admin = new_browser()
    admin.sign_in("root@example.com")
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    made = statements(lambda: admin.get("/admin/?q=user", headers={"HX-Request": "true"}))
    assert made == ["SELECT", "SELECT"]


def test_the_accounts_list_reads_only_what_it_shows(make_user, new_browser, count_queries):
    """No password hash and no second-factor subqueries for each listed account."""
    make_user(email="user1@example.com", username="user1")
    make_user(email="root@example.com", username="root", admin=True)
    admin = new_browser()
    admin.sign_in("root@example.com")
    with count_queries() as queries:
        response = admin.get("/admin/?q=user", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "user1@example.com" in response.get_data(as_text=True)
    listing = queries[-1]
    # The id as text: a row only links to the account (no UUID object per row).
    assert listing.lstrip().startswith("SELECT CAST(users.id AS VARCHAR) AS id"), listing
    assert "password_hash" not in listing and "totp_secrets" not in listing, listing


def test_a_login_from_a_known_device_writes_once(api, user, statements):
    first = api.client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    device = first.get_json()["device_token"]

    def login():
        clock.advance(timedelta(minutes=1))
        return api.client.post(
            "/api/v1/auth/login",
            json={"email": "alice@example.com", "password": PASSWORD, "device_token": device},
        )

    made = statements(login)
    assert made == [
        "SELECT",  # the account by email or username, its second factors, this device of
        # it and the device's guessing budget, in one statement
        "UPDATE",  # sessions past the cap (none), in one statement
        # then everything it writes, in one flush at the commit:
        "UPDATE",  # the device's last use
        "UPDATE",  # the user's last sign-in
        "INSERT",  # the session, refresh jti and device included
        "INSERT",  # the event
    ], made  # and the tokens are signed from what was just written, not read back


def test_sign_ins_in_a_burst_write_the_last_sign_in_and_the_devices_last_use_once_a_minute(
    api, user, count_queries
):
    """Like a session's last use, the account's last sign-in and the device's last use are
    written at most once a minute: sign-ins to one account from one device in a burst do not
    each rewrite those rows. A device's new label is written at once."""
    body = {"email": "alice@example.com", "password": PASSWORD}
    first = api.client.post("/api/v1/auth/login", json=body)
    assert first.status_code == 200
    body["device_token"] = first.get_json()["device_token"]
    db.session.expire_all()
    signed_in_at = db.session.get(type(user), user.id).last_login_at
    device = db.session.scalars(select(Device).where(Device.user_id == user.id)).one()
    used_at, label = device.last_used_at, device.device_label

    clock.advance(timedelta(seconds=30))
    with count_queries() as burst:
        assert api.client.post("/api/v1/auth/login", json=body).status_code == 200
    clock.advance(timedelta(seconds=31))
    with count_queries() as later:
        assert api.client.post("/api/v1/auth/login", json=body).status_code == 200
    clock.advance(timedelta(seconds=1))
    with count_queries() as relabelled:
        headers = {"User-Agent": "PortalApp/2.0 (iPhone; iOS 17.0)"}
        assert api.client.post("/api/v1/auth/login", json=body, headers=headers).status_code == 200

    assert not [q for q in burst if q.startswith(("UPDATE users", "UPDATE devices"))], burst
    assert [q for q in later if q.startswith("UPDATE users")], later
    assert [q for q in later if q.startswith("UPDATE devices")], later
    assert [q for q in relabelled if q.startswith("UPDATE devices")], relabelled
    db.session.expire_all()
    moved = db.session.get(type(user), user.id).last_login_at - signed_in_at
    assert timedelta(seconds=61) <= moved < timedelta(seconds=62)
    device = db.session.get(Device, device.id)
    assert timedelta(seconds=61) <= device.last_used_at - used_at < timedelta(seconds=62)
    assert device.device_label != label and "iOS" in device.device_label


def test_a_login_from_a_new_device_adds_only_the_device_and_its_notice(api, user, statements):
    """The first sign-in makes the account's first (quiet) device; the next, from an app
    that sends no device token, is a new device: announced, with a "wasn't me" link."""
    api.client.post("/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD})

    def login():
        clock.advance(timedelta(minutes=1))
        return api.client.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )

    made = statements(login)
    assert made == [
        "SELECT",  # the account by email or username, its second factors, whether it has
        # devices (then this one is announced) and its guessing budget, in one statement
        "UPDATE",  # sessions past the cap (none)
        "SELECT",  # a notice to this address still queued (then it is merged into that one)
        # then everything it writes, in one flush at the commit:
        "INSERT",  # this device, with a new token (never looked up: no device has it yet)
        "INSERT",  # the session
        "UPDATE",  # the user's last sign-in
        "INSERT",  # the event
        "INSERT",  # the notice, in the outbox (its "wasn't me" link names the device)
    ], made


def test_a_page_view_does_not_rewrite_the_session_cookie(auth):
    """The signed cookie is written when it changes, not re-signed on every page."""
    auth.get("/sessions")  # the first view after sign-in may still carry its message
    response = auth.get("/sessions")
    assert response.status_code == 200
    assert not any(c.startswith("portal=") for c in response.headers.getlist("Set-Cookie")), (
        response.headers.getlist("Set-Cookie")
    )


def test_the_session_cap_reads_active_sessions_only(api, user):
    """At sign-in, the cap's UPDATE reads the account's active sessions through their own
    index (least recently used first), not every ended session the account ever had."""
    from sqlalchemy import text

    db.session.execute(
        text(
            "INSERT INTO sessions (id, user_id, kind, user_agent, device_label, ip_address, "
            "created_at, last_seen_at, expires_at, revoked_at, revoked_reason, "
            "reauth_failures) SELECT gen_random_uuid(), :user, 'api', '', 'Old', '', "
            "now() - n * interval '1 minute', now() - n * interval '1 minute', "
            "now() + interval '1 day', CASE WHEN n > 150 THEN now() END, "
            "CASE WHEN n > 150 THEN 'Signed out' END, 0 FROM generate_series(1, 5000) AS n"
        ),
        {"user": user.id},
    )
    # Other accounts' sessions, as in any real table (the account's own are then few).
    add_users(2000, prefix="other")
    db.session.execute(
        text(
            "INSERT INTO sessions (id, user_id, kind, user_agent, device_label, ip_address, "
            "created_at, last_seen_at, expires_at, reauth_failures) SELECT gen_random_uuid(), "
            "u.id, 'web', '', 'Other', '', now(), now(), now() + interval '1 day', 0 "
            "FROM users u CROSS JOIN generate_series(1, 10) WHERE u.email LIKE 'other%'"
        )
    )
    db.session.execute(text("ANALYZE sessions"))
    ((statement, parameters),) = _sign_in_sending(api, "UPDATE sessions SET revoked_at")
    plan = explain(statement, parameters)
    assert "ix_sessions_active_user_id_last_seen_at" in plan, plan
    ended = db.session.scalar(
        text("SELECT count(*) FROM sessions WHERE user_id = :u AND revoked_reason = :r"),
        {"u": user.id, "r": "Too many active sessions"},
    )
    assert ended == 51  # 150 active and the new one: the 100 most recently used stay


def test_the_sign_in_look_up_asks_for_devices_through_their_account_index(api, user):
    """Whether the account has a known device comes with the account's own look-up, read
    through devices(user_id): not a scan of every device of every account."""
    from sqlalchemy import text

    add_users(2000, prefix="other")
    db.session.execute(
        text(
            "INSERT INTO devices (id, user_id, token_hash, kind, device_label, created_at, "
            "last_used_at) SELECT gen_random_uuid(), u.id, md5(u.email || n), 'web', 'Firefox', "
            "now(), now() FROM users u CROSS JOIN generate_series(1, 3) AS n"
        )
    )
    db.session.execute(text("ANALYZE devices"))
    statement, parameters = _sign_in_sending(api, "SELECT users.id")[0]
    assert "devices" in statement  # asked in the same statement
    plan = explain(statement, parameters)
    assert "ix_devices_user_id" in plan and "Seq Scan on devices" not in plan, plan


def _sign_in_sending(api, start: str) -> list[tuple]:
    """alice signs in through the API: the statements starting with `start` it sent."""
    with sent_statements(lambda sql: sql.startswith(start)) as sent:
        response = api.client.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    return sent


def test_unknown_logins_and_wrong_passwords_make_the_same_statements(api, user, count_queries):
    """Enumeration by timing: the look-up (account, device, budget) is one statement either
    way, and so is everything after it, for an account and for no account."""

    def statements_of(email):
        with count_queries() as sent:
            response = api.client.post(
                "/api/v1/auth/login", json={"email": email, "password": "not the password 1"}
            )
        assert response.status_code == 401, response.get_data(as_text=True)
        return [" ".join(q.split()[:2]) for q in sent]

    known = statements_of("alice@example.com")
    unknown = statements_of("nobody@example.com")

    assert known == unknown, (known, unknown)
    assert len([q for q in known if q.startswith("SELECT")]) >= 2  # look-up, pending sign-ups
