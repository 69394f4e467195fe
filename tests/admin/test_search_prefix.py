"""The admin search matches a prefix as a range of strings (flows/admin.py _prefix_range):
every character is literal, and PostgreSQL keeps one plan for every prefix."""

import pytest
from db_helpers import add_users, explain, sent_statements
from sqlalchemy import text

from portal.extensions import db
from portal.flows.admin import _prefix_range, search_users


@pytest.mark.parametrize(
    ("prefix", "hi"),
    [
        ("user1", "user2"),
        ("a", "b"),
        ("z", "{"),
        ("a%", "a&"),
        ("a_", "a`"),
        ("é", "ê"),
        ("\ud7ff", "\ue000"),  # the next code point that UTF-8 can hold (no surrogates)
        ("a\U0010ffff", "b"),  # the last code point: the one before it moves on
    ],
)
def test_the_range_ends_at_the_next_code_point(prefix, hi):
    assert _prefix_range(prefix) == {"lo": prefix, "hi": hi}


@pytest.mark.parametrize("prefix", ["", "\U0010ffff"])
def test_a_range_with_nothing_to_move_on_takes_everything_from_the_prefix(prefix):
    bounds = _prefix_range(prefix)
    assert bounds["lo"] == prefix and bounds["hi"] > prefix + "\uffff"


def test_wildcards_and_backslashes_are_plain_characters(make_user):
    for name in ("a_b", "axb", "c%d", "cxd", "e\\f"):
        make_user(email=f"{name}@example.com", username=name.replace("\\", "").replace("%", ""))

    def emails(query):
        return [u.email for u in search_users(query).items]

    assert emails("a_") == ["a_b@example.com"]
    assert emails("c%") == ["c%d@example.com"]
    assert emails("e\\") == ["e\\f@example.com"]


def test_a_prefix_that_ends_past_the_alphabet_still_finds_its_accounts(make_user):
    make_user(email="zz@example.com", username="zz")
    make_user(email="{z@example.com", username="brace")  # "{": the end of the range "z"
    assert [u.email for u in search_users("z").items] == ["zz@example.com"]
    assert [u.email for u in search_users("{").items] == ["{z@example.com"]


def test_one_generic_plan_reads_the_index_in_order_and_stops(app, make_user):
    """A plan made without the prefix's value (as PostgreSQL keeps for a prepared statement)
    is still an index scan under the Limit: no sort, no plan per search."""
    add_users(5000)
    db.session.execute(text("ANALYZE users"))
    with sent_statements(lambda sql: "FROM users" in sql) as captured:
        search_users("user1", limit=25)
        search_users("zzz", limit=25)  # no email matches: the username run is read too
    assert len(captured) == 3
    db.session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    for statement, parameters in captured:
        assert " LIKE " not in statement, statement
        plan = explain(statement, parameters)
        assert plan.startswith("Limit"), plan
        assert "Index Scan using ix_users_" in plan and "_c on users" in plan, plan
        assert "Sort" not in plan, plan
