"""The Sessions page and GET /sessions a page at a time: keyset, constant work, index order."""

import re

import pytest
from db_helpers import add_sessions, explain, sent_statements
from sqlalchemy import text

from portal.extensions import db


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="session-([0-9a-f-]+)"', html)


def test_the_sessions_page_shows_fifty_at_a_time(auth, user):
    add_sessions(user, 120)  # with the signed-in one: 121

    first = auth.get("/sessions").get_data(as_text=True)
    assert len(rows(first)) == 50
    assert "This device" in first  # the newest: this sign-in
    second_url = re.search(r'href="(/sessions\?after=[^"]+)"', first).group(1)
    second = auth.get(second_url.replace("&amp;", "&")).get_data(as_text=True)
    third_url = re.search(r'href="(/sessions\?after=[^"]+)"', second).group(1)
    third = auth.get(third_url).get_data(as_text=True)

    assert len(rows(second)) == 50 and len(rows(third)) == 21
    assert "Older sessions" not in third and "Newest sessions" in third
    assert len(set(rows(first) + rows(second) + rows(third))) == 121


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
