"""portal/pagination.py: one keyset helper behind every list (Activity, Sessions, the admin's
users, events and emails, GET /api/v1/sessions); ties, both directions, and cursors from
URLs that were never ours."""

import base64
import re
import uuid
from datetime import datetime, timedelta

import pytest
from db_helpers import add_sessions, explain, sent_statements
from sqlalchemy import select, text
from web_helpers import PASSWORD

from portal import clock
from portal.extensions import db
from portal.flows import activity, events
from portal.flows.admin import search_users
from portal.flows.sessions import sessions_page
from portal.models import SecurityEvent, UserSession
from portal.pagination import BadCursor, Page, decode, encode, keyset_page


def forged(raw: str) -> str:
    """A cursor shaped like ours around any JSON text."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# -- the helper ------------------------------------------------------------------------------


@pytest.fixture
def tied_sessions(user):
    """Seven sessions of alice whose start times tie across both page edges of a 3-a-page
    list, oldest or newest first: only the id tells them apart there."""
    base = clock.utcnow() - timedelta(days=1)
    minutes = [0, 0, 1, 1, 1, 2, 2]
    rows = [
        UserSession(
            id=uuid.uuid4(),
            user=user,
            kind="web",
            created_at=base + timedelta(minutes=m),
            last_seen_at=base,
            expires_at=base + timedelta(days=3),
        )
        for m in minutes
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def walk(statement, keys, limit, params=None) -> tuple[list[list], list[list]]:
    """Every page forward from the first, then every page back from the last."""
    forward, page = [], keyset_page(statement, keys, limit, params=params)
    forward.append(page.items)
    while page.next_cursor is not None:
        page = keyset_page(statement, keys, limit, after=page.next_cursor, params=params)
        forward.append(page.items)
    backward = [page.items]
    while page.prev_cursor is not None:
        page = keyset_page(statement, keys, limit, before=page.prev_cursor, params=params)
        backward.append(page.items)
    return forward, backward[::-1]


@pytest.mark.parametrize("descending", [True, False])
def test_three_pages_forward_and_back_with_ties_on_the_first_key(user, tied_sessions, descending):
    statement = select(UserSession).where(UserSession.user_id == user.id)
    keys = [UserSession.created_at, UserSession.id]
    if descending:
        keys = [k.desc() for k in keys]
    expected = sorted(tied_sessions, key=lambda s: (s.created_at, s.id), reverse=descending)

    forward, backward = walk(statement, keys, 3)

    assert forward == [expected[0:3], expected[3:6], expected[6:7]]
    assert backward == forward
    # the ties do fall across the page edges, so the id really is what orders them there
    assert expected[2].created_at == expected[3].created_at
    assert expected[5].created_at == expected[6].created_at


def test_a_statement_built_once_pages_alike_for_each_set_of_parameters(
    user, tied_sessions, make_user, count_queries
):
    """`params`: the list's statement and keys are constants, its values bind parameters;
    the composed page statements are kept and serve every caller with their own values."""
    from sqlalchemy import bindparam

    statement = select(UserSession).where(UserSession.user_id == bindparam("owner"))
    keys = (UserSession.created_at.desc(), UserSession.id.desc())
    expected = sorted(tied_sessions, key=lambda s: (s.created_at, s.id), reverse=True)
    other = make_user(email="bob@example.com", username="bob")
    add_sessions(other, 4)

    forward, backward = walk(statement, keys, 3, params={"owner": user.id})
    assert forward == [expected[0:3], expected[3:6], expected[6:7]]
    assert backward == forward
    bobs = walk(statement, keys, 3, params={"owner": other.id})[0]
    assert [len(page) for page in bobs] == [3, 1]
    assert {s.user_id for page in bobs for s in page} == {other.id}
    with count_queries() as queries:
        keyset_page(statement, keys, 3, params={"owner": user.id})
    assert len(queries) == 1 and "LIMIT" in queries[0]


def test_the_first_and_last_pages_have_no_link_outwards(user, tied_sessions):
    statement = select(UserSession).where(UserSession.user_id == user.id)
    keys = [UserSession.created_at.desc(), UserSession.id.desc()]
    first = keyset_page(statement, keys, 3)
    assert first.prev_cursor is None and first.next_cursor is not None
    everything = keyset_page(statement, keys, 7)
    assert everything.next_cursor is None and everything.prev_cursor is None
    assert len(everything.items) == 7


def test_an_empty_page_still_links_back(user, tied_sessions):
    """A cursor past the end (the rows went meanwhile): no dead end, a way back."""
    statement = select(UserSession).where(UserSession.user_id == user.id)
    keys = [UserSession.created_at.desc(), UserSession.id.desc()]
    past_the_end = encode([datetime(2000, 1, 1, tzinfo=clock.utcnow().tzinfo), uuid.uuid4()])
    page = keyset_page(statement, keys, 3, after=past_the_end)
    assert page == Page([], next_cursor=None, prev_cursor=past_the_end)
    back = keyset_page(statement, keys, 3, before=page.prev_cursor)
    newest_first = sorted(tied_sessions, key=lambda s: (s.created_at, s.id), reverse=True)
    assert back.items == newest_first[-3:] and back.prev_cursor is not None


def test_keys_going_two_ways_are_refused(user):
    with pytest.raises(ValueError, match="one way"):
        keyset_page(select(UserSession), [UserSession.created_at.desc(), UserSession.id], 3)


def test_cursors_round_trip_and_say_nothing_readable():
    when, sid = clock.utcnow(), uuid.uuid4()
    cursor = encode([when, sid])
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert decode(cursor, (datetime, uuid.UUID)) == (when, sid)
    assert decode(encode([42]), (int,)) == (42,)
    assert decode(encode(["e", "zoë@example.com"]), (str, str)) == ("e", "zoë@example.com")


BAD_CURSORS = [
    "",
    "garbage",
    "!!!!",
    "é",
    "💥🙂",
    "0",
    "-5",
    "99999999999999999999999",
    "anne@example.com",
    "x" * 3000,
    forged("[1e400]"),
    forged(f"[{2**80}]"),
    forged("[-9223372036854775809]"),
    forged("[1.5]"),
    forged("[true]"),
    forged("[null]"),
    forged("[[]]"),
    forged("{}"),
    forged("[]"),
    forged('["\\u0000"]'),  # NUL inside the JSON: past the request guard, never to PostgreSQL
    forged('["\\ud800"]'),  # a lone surrogate: not UTF-8
    forged('["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]'),  # naive
    forged('["not a time", "not a uuid"]'),
    forged('["e"]'),
    forged("[" * 5000),
    forged("not json"),
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
]


def test_an_empty_cursor_is_no_cursor(user, tied_sessions):
    statement = select(UserSession).where(UserSession.user_id == user.id)
    keys = [UserSession.created_at.desc(), UserSession.id.desc()]
    first = keyset_page(statement, keys, 3)
    assert keyset_page(statement, keys, 3, after="", before="") == first
    with pytest.raises(BadCursor):
        decode("", (int,))


@pytest.mark.parametrize("cursor", [c for c in BAD_CURSORS if c])
def test_bad_cursors_raise_bad_cursor_before_any_sql(app, count_queries, cursor):
    keys = [UserSession.created_at.desc(), UserSession.id.desc()]
    with count_queries() as statements:
        with pytest.raises(BadCursor):
            keyset_page(select(UserSession), keys, 3, after=cursor)
        with pytest.raises(BadCursor):
            keyset_page(select(SecurityEvent), [SecurityEvent.id.desc()], 3, before=cursor)
    assert statements == []


def _reads_sessions(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT") and "FROM sessions" in sql


def test_the_cursor_page_of_sessions_reads_the_index_in_order_and_stops(app, user):
    """EXPLAIN of a page after a cursor: the row-value comparison is served by the index on
    (user_id, created_at), under a Limit, with no sort of every session."""
    add_sessions(user, 3000)
    db.session.execute(text("ANALYZE sessions"))
    cursor = sessions_page(user).next_cursor
    with sent_statements(_reads_sessions) as captured:
        sessions_page(user, cursor)
    statement, parameters = captured[-1]
    assert "(sessions.created_at, sessions.id) <" in statement
    plan = explain(statement, parameters)
    assert plan.startswith("Limit"), plan
    # Either index on (user_id, created_at) read backwards: the one of active sessions, or
    # the one of all of an account's sessions (PostgreSQL picks by its statistics).
    index = r"Index Scan Backward using ix_sessions_(active_)?user_id_created_at"
    assert re.search(index, plan), plan
    full_sorts = [line for line in plan.splitlines() if re.match(r"\s*(->\s+)?Sort\s+\(", line)]
    assert not full_sorts, plan


# -- each caller, the same pages as before ---------------------------------------------------


def test_events_pages_are_newest_first_by_id_both_ways(user, make_user):
    other = make_user()
    for i in range(7):
        events.record("username_changed", user, old=f"o{i}", new=f"n{i}")
        events.record("username_changed", other, old=f"x{i}", new=f"y{i}")
    db.session.commit()
    expected = list(
        db.session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.user_id == user.id)
            .order_by(SecurityEvent.id.desc())
        )
    )

    pages, page = [], activity.own_activity(user, limit=3)
    pages.append(page.items)
    while page.next_cursor:
        page = activity.own_activity(user, after=page.next_cursor, limit=3)
        pages.append(page.items)
    assert pages == [expected[0:3], expected[3:6], expected[6:7]]
    back = activity.own_activity(user, before=page.prev_cursor, limit=3)
    assert back.items == expected[3:6]
    assert activity.own_activity(user, before=back.prev_cursor, limit=3).items == expected[0:3]
    # a cursor that is not ours shows the first page, as the old integer links do now
    assert activity.events_page(user=user, after="12345", limit=3).items == expected[0:3]


def test_sessions_pages_are_newest_first_and_bad_cursors_are_a_validation_error(user):
    add_sessions(user, 7)
    expected = sorted(
        db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)),
        key=lambda s: (s.created_at, s.id),
        reverse=True,
    )
    expected = [str(s.id) for s in expected]  # the list's rows carry ids as text
    pages, page = [], sessions_page(user, limit=3)
    pages.append([s.id for s in page.items])
    while page.next_cursor:
        page = sessions_page(user, page.next_cursor, limit=3)
        pages.append([s.id for s in page.items])
    assert pages == [expected[0:3], expected[3:6], expected[6:7]]
    assert [s.id for s in sessions_page(user, "", limit=3).items] == expected[0:3]

    from portal.flows import FlowError

    with pytest.raises(FlowError) as refused:
        sessions_page(user, "zz")
    assert refused.value.code == "validation_error"


def test_search_pages_keep_the_two_runs_and_old_links(app, make_user):
    for name in ["anna", "anne", "annika", "ann_x", "bert"]:
        make_user(email=f"{name}@example.com", username=f"{name}-user")
    make_user(email="zz-1@example.org", username="ann-1")
    make_user(email="aa-2@example.org", username="ann-2")
    expected = [
        "ann_x@example.com",
        "anna@example.com",
        "anne@example.com",
        "annika@example.com",
        "zz-1@example.org",  # then those matched by username only, in username order
        "aa-2@example.org",
    ]

    pages, page = [], search_users("ann", limit=4)
    pages.append([u.email for u in page.items])
    while page.next_cursor:
        page = search_users("ann", after=page.next_cursor, limit=4)
        pages.append([u.email for u in page.items])
    assert pages == [expected[0:4], expected[4:6]]
    back = search_users("ann", before=page.prev_cursor, limit=4)
    assert [u.email for u in back.items] == expected[0:4] and back.prev_cursor is None

    # links written before the cursors were opaque still land where they did
    old_email_link = search_users("ann", after="anne@example.com", limit=4)
    assert [u.email for u in old_email_link.items] == expected[3:6]
    old_username_link = search_users("ann", after="u:ann-1", limit=4)
    assert [u.email for u in old_username_link.items] == ["aa-2@example.org"]
    # a cursor of another search (the username run of "ann", used on the empty search)
    other = search_users("", after=encode(["u", "ann-1"]), limit=4)
    assert [u.email for u in other.items] == sorted(
        ["aa-2@example.org", "ann_x@example.com", "anna@example.com", "anne@example.com"]
    )


def test_outbox_pages_are_newest_first_both_ways(app):
    from portal import outbox
    from portal.models import OutboxMessage

    for n in range(5):
        db.session.add(
            OutboxMessage(
                kind="verify_email", recipient=f"p{n}@example.com", idempotency_key=f"k{n}"
            )
        )
    db.session.commit()
    expected = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())))
    first = outbox.listing(limit=2)
    second = outbox.listing(after=first.next_cursor, limit=2)
    assert first.items == expected[0:2] and second.items == expected[2:4]
    assert outbox.listing(before=second.prev_cursor, limit=2).items == expected[0:2]
    assert outbox.listing(after="12", limit=2).items == expected[0:2]


# -- pages and API: a bad cursor is never a server error ---------------------------------------


@pytest.fixture
def admin_browser(make_user, new_browser, user):
    make_user(email="root@example.com", username="root", admin=True)
    browser = new_browser()
    browser.sign_in("root@example.com", PASSWORD)
    return browser


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_bad_cursors_on_the_pages_show_the_first_page(admin_browser, cursor):
    for path in ("/activity", "/admin/", "/admin/events", "/admin/outbox"):
        for direction in ("after", "before"):
            response = admin_browser.get(path, query_string={direction: cursor, "q": "r"})
            assert response.status_code == 200, (path, direction, response.status_code)
    sessions = admin_browser.get("/sessions", query_string={"after": cursor})
    if cursor:
        assert sessions.status_code == 303 and sessions.headers["Location"] == "/sessions"
    else:
        assert sessions.status_code == 200


@pytest.mark.parametrize("cursor", [c for c in BAD_CURSORS if c])
def test_bad_cursors_on_the_api_are_422_about_the_cursor(client, user, cursor):
    login = client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    response = client.get("/api/v1/sessions", query_string={"cursor": cursor}, headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"].keys() == {"cursor"}


def test_a_well_formed_cursor_from_far_away_is_just_an_empty_page(client, user):
    login = client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    far = encode([datetime(1, 1, 1, tzinfo=clock.utcnow().tzinfo), uuid.uuid4()])
    response = client.get("/api/v1/sessions", query_string={"cursor": far}, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"sessions": [], "next_cursor": None}
    future = encode([datetime(9999, 12, 31, tzinfo=clock.utcnow().tzinfo), uuid.uuid4()])
    response = client.get("/api/v1/sessions", query_string={"cursor": future}, headers=headers)
    assert len(response.get_json()["sessions"]) == 1
