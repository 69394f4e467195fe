"""The Sessions page and GET /sessions a page at a time: keyset, constant work, index order."""

import re

import pytest
from db_helpers import add_sessions, explain, sent_statements
from sqlalchemy import text

from portal.extensions import db


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="session-([0-9a-f-]+)"', html)


def row_of(html: str, session_id: str) -> str:
    """The HTML of one session's row."""
    return html[html.index(f'id="session-{session_id}"') :].split("</tr>")[0]


def test_the_sessions_page_shows_twenty_five_at_a_time(auth, user):
    add_sessions(user, 70)  # with the signed-in one: 71

    first = auth.get("/sessions").get_data(as_text=True)
    assert len(rows(first)) == 25
    assert "This device" in first  # the newest: this sign-in
    second_url = re.search(r'href="(/sessions\?after=[^"]+)"', first).group(1)
    second = auth.get(second_url.replace("&amp;", "&")).get_data(as_text=True)
    third_url = re.search(r'href="(/sessions\?after=[^"]+)"', second).group(1)
    third = auth.get(third_url).get_data(as_text=True)

    assert len(rows(second)) == 25 and len(rows(third)) == 21
    assert "Older sessions" not in third and "Newest sessions" in third
    assert len(set(rows(first) + rows(second) + rows(third))) == 71


@pytest.mark.parametrize("cursor", ["nonsense", "MjAyNnx4", "x" * 5000])
def test_a_mangled_page_link_starts_over(auth, cursor):
    response = auth.get(f"/sessions?after={cursor}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sessions"


def test_a_page_link_with_a_nul_is_refused_before_the_page(auth):
    response = auth.get("/sessions?after=%00")
    assert response.status_code == 400


def test_a_page_costs_the_same_statements_with_2_or_1000_sessions(auth, user, count_queries):
    def statements() -> int:
        db.session.expire_all()
        with count_queries() as queries:
            assert auth.get("/sessions").status_code == 200
        return len(queries)

    add_sessions(user, 1)
    few = statements()
    add_sessions(user, 1000)
    assert statements() == few


def test_the_page_query_reads_the_index_in_order_and_stops_after_a_page(app, user):
    """EXPLAIN: an index scan on (user_id, created_at) under a Limit, no sort of every row."""
    from portal.flows.sessions import sessions_page

    add_sessions(user, 3000)
    db.session.execute(text("ANALYZE sessions"))
    with sent_statements(
        lambda sql: sql.lstrip().upper().startswith("SELECT") and "FROM sessions" in sql
    ) as captured:
        sessions_page(user)
    statement, parameters = captured[-1]
    plan = explain(statement, parameters)
    assert "Limit" in plan
    # Either index on (user_id, created_at) read backwards: the one of active sessions, or
    # the one of all of an account's sessions (PostgreSQL picks by its statistics).
    index = r"Index Scan Backward using ix_sessions_(active_)?user_id_created_at"
    assert re.search(index, plan), plan
    # Ties on created_at are ordered by id as they come (an incremental sort of a presorted
    # stream, bounded by the Limit): never a sort of every session.
    full_sorts = [line for line in plan.splitlines() if re.match(r"\s*(->\s+)?Sort\s+\(", line)]
    assert not full_sorts, plan


def test_the_rows_show_labels_as_text_and_end_every_session_but_this_one(auth, user):
    """The rows are made in Python (portal/templating.py session_rows): a device label or an
    address with HTML in it is shown as text; every row but this device's has its sign-out
    form, with the page's CSRF token, for that session."""
    add_sessions(user, 2, kind="api")
    db.session.execute(
        text(
            "UPDATE sessions SET device_label = '<b>Evil</b> & \"co\"', ip_address = '<i>' "
            "WHERE user_id = :user AND kind = 'api'"
        ),
        {"user": user.id},
    )
    db.session.commit()
    html = auth.get("/sessions").get_data(as_text=True)

    assert "<b>Evil</b>" not in html and "<i>" not in html
    assert "&lt;b&gt;Evil&lt;/b&gt; &amp; &#34;co&#34;" in html and "&lt;i&gt;" in html
    ids = rows(html)
    this, others = ids[0], ids[1:]
    assert len(others) == 2
    assert "This device" in row_of(html, this)
    assert "Sign out</button>" not in row_of(html, this)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    for other in others:
        row = row_of(html, other)
        assert f'action="/sessions/{other}/end"' in row
        assert f'hx-delete="/sessions/{other}/end"' in row
        assert f'value="{token}"' in row and "App" in row and "This device" not in row
    ended = auth.post(
        f"/sessions/{others[0]}/end", data={"csrf_token": token}, form_page="/sessions"
    )
    assert ended.status_code == 303 and others[0] not in rows(auth.get("/sessions").get_data(True))


def test_this_device_is_marked_wherever_it_sits_in_the_list(auth, user):
    """ "This device" follows the session, not the first row: two sessions started after
    this one come first, and only this one's row is marked and has no sign-out form. The
    times are written as people read them, with the exact instant for machines."""
    add_sessions(user, 3)
    db.session.execute(
        text(
            "UPDATE sessions SET created_at = now() + interval '1 minute' * n.n, "
            "last_seen_at = TIMESTAMPTZ '2026-01-02 03:04:05.000006+00' "
            "FROM (SELECT id, row_number() OVER (ORDER BY created_at) AS n FROM sessions "
            "WHERE user_id = :user AND revoked_at IS NULL ORDER BY created_at LIMIT 2) AS n "
            "WHERE sessions.id = n.id"
        ),
        {"user": user.id},
    )
    db.session.commit()
    html = auth.get("/sessions").get_data(as_text=True)

    ids = rows(html)
    marked = [i for i in ids if "This device" in row_of(html, i)]
    assert len(ids) == 4 and len(marked) == 1 and ids.index(marked[0]) == 2
    for other in ids[:2]:
        row = row_of(html, other)
        assert f'action="/sessions/{other}/end"' in row
        assert (
            '<time datetime="2026-01-02T03:04:05.000006+00:00">2 Jan 2026, 03:04 UTC</time>' in row
        )


def test_the_list_reads_its_rows_in_binary_and_nothing_else_does(auth, user):
    """portal/database.py: the sessions list asks for PostgreSQL's binary format (no text
    written and parsed for each time); every other statement keeps the text format."""
    from psycopg.pq import Format
    from sqlalchemy import event

    add_sessions(user, 3)
    formats = {}

    def spy(_conn, cursor, statement, *_args):
        listing = statement.startswith("SELECT CAST(sessions.id AS VARCHAR) AS id")
        formats.setdefault("list" if listing else "other", []).append(cursor.format)

    event.listen(db.engine, "after_cursor_execute", spy)
    try:
        html = auth.get("/sessions").get_data(as_text=True)
    finally:
        event.remove(db.engine, "after_cursor_execute", spy)

    assert formats["list"] == [Format.BINARY]
    assert formats["other"] and set(formats["other"]) == {Format.TEXT}
    assert len(rows(html)) == 4 and "This device" in html and "Old device 1" in html
