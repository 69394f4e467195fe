"""Admin users list: case-insensitive prefix search, keyset pages, constant SQL per page."""

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.flows import activity
from portal.flows.admin import search_users
from portal.models import User


def emails_on(html: str) -> list[str]:
    return re.findall(r'<td data-label="Email"><a href="[^"]+">([^<]+)</a>', html)


def next_link(html: str, rel: str = "next") -> str | None:
    match = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def people(make_user, admin_user):
    names = ["anna", "anne", "annika", "bert", "ann_x", "annxx", "zed"]
    return [make_user(email=f"{n}@example.com", username=f"{n}-user") for n in names]


def test_search_is_a_case_insensitive_prefix_of_email_or_username(admin, people, make_user):
    make_user(email="someone@example.org", username="ANNOUNCER")
    html = admin.get("/admin/?q=ANN").get_data(as_text=True)
    assert emails_on(html) == [
        "ann_x@example.com",
        "anna@example.com",
        "anne@example.com",
        "annika@example.com",
        "annxx@example.com",
        "someone@example.org",  # by username
    ]
    assert emails_on(admin.get("/admin/?q=bert-U").get_data(as_text=True)) == ["bert@example.com"]
    # a prefix, not a substring
    assert emails_on(admin.get("/admin/?q=nna").get_data(as_text=True)) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ann_", ["ann_x@example.com"]),  # _ is a letter here, not "any character"
        ("ann%", []),  # % too
        ("%", []),
        ("_", []),
        ("\\", []),
    ],
)
def test_like_wildcards_in_the_query_are_taken_literally(admin, people, query, expected):
    response = admin.get("/admin/", query_string={"q": query})
    assert response.status_code == 200
    assert emails_on(response.get_data(as_text=True)) == expected


def test_the_list_shows_verified_disabled_admin_and_last_sign_in(admin, make_user):
    make_user(email="off@example.com", username="off", active=False, verified=False)
    html = admin.get("/admin/?q=off").get_data(as_text=True)
    row = html[html.index("off@example.com") :]
    row = row[: row.index("</tr>")]
    assert "Unverified" in row and "Disabled" in row and "never" in row
    html = admin.get("/admin/?q=root").get_data(as_text=True)
    row = html[html.index("root@example.com") :]
    row = row[: row.index("</tr>")]
    assert "Verified" in row and "Admin" in row and "UTC" in row  # signed in just now


def test_the_list_escapes_what_people_typed(admin, make_user):
    """An address may hold characters that mean something in HTML: the list shows them as
    text (its rows are made in Python, portal/templating.py account_rows)."""
    make_user(email="o'brien&<b>x</b>@example.com", username="obrien")
    html = admin.get("/admin/?q=obrien", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "o&#39;brien&amp;&lt;b&gt;x&lt;/b&gt;@example.com" in html
    assert "<b>" not in html
    account = db.session.scalar(select(User).where(User.username == "obrien"))
    assert f'href="/admin/users/{account.id}"' in html and f'id="user-{account.id}"' in html


def test_pages_follow_each_other_without_gaps_or_repeats(admin, people, monkeypatch):
    monkeypatch.setattr(activity, "PAGE_SIZE", 3)
    seen, url, pages = [], "/admin/?q=", 0
    while url:
        html = admin.get(url).get_data(as_text=True)
        on_page = emails_on(html)
        assert 0 < len(on_page) <= 3
        seen += on_page
        url, pages = next_link(html), pages + 1
    everyone = sorted(p.email for p in people) + ["root@example.com"]
    assert seen == sorted(everyone) and pages == 3

    # and back: "Previous" from the last page shows the page before it
    last = admin.get("/admin/?after=anne@example.com").get_data(as_text=True)
    assert emails_on(last) == ["annika@example.com", "annxx@example.com", "bert@example.com"]
    back = admin.get(next_link(last, "prev")).get_data(as_text=True)
    assert emails_on(back) == ["ann_x@example.com", "anna@example.com", "anne@example.com"]
    assert next_link(back, "prev") is None


def test_exactly_one_full_page_has_no_next_link(admin, people, monkeypatch):
    monkeypatch.setattr(activity, "PAGE_SIZE", 5)
    html = admin.get("/admin/?q=ann").get_data(as_text=True)  # five "ann..." accounts
    assert len(emails_on(html)) == 5
    assert next_link(html) is None and next_link(html, "prev") is None


def test_search_keeps_the_query_across_pages(admin, people, monkeypatch):
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    html = admin.get("/admin/?q=ann").get_data(as_text=True)
    link = next_link(html)
    assert "q=ann" in link
    html = admin.get(link).get_data(as_text=True)
    assert emails_on(html) == ["anne@example.com", "annika@example.com"]


def test_htmx_search_answers_only_the_results(admin, people):
    response = admin.get("/admin/?q=bert", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html and emails_on(html) == ["bert@example.com"]
    assert "HX-Request" in response.headers["Vary"]


def test_sql_statements_of_the_users_page_do_not_grow_with_page_size(
    admin, people, make_user, count_queries, monkeypatch
):
    for i in range(20):
        make_user(email=f"bulk{i:02}@example.com", username=f"bulk{i:02}")
    admin.get("/admin/")  # warm up (last_seen_at touch)

    def statements_for(page_size: int) -> int:
        monkeypatch.setattr(activity, "PAGE_SIZE", page_size)
        with count_queries() as statements:
            html = admin.get("/admin/").get_data(as_text=True)
        assert len(emails_on(html)) == page_size
        return len(statements)

    assert statements_for(2) == statements_for(25)
    assert statements_for(2) <= 3  # the session, the page of users (and maybe a touch)


def test_search_users_flow_uses_the_email_order(app, people):
    page = search_users("", limit=100)
    assert [u.email for u in page.items] == sorted(u.email for u in page.items)
    assert page.next_cursor is None and page.prev_cursor is None


def test_email_matches_come_first_then_username_only_matches_across_pages(
    admin, people, make_user, monkeypatch
):
    make_user(email="zz-1@example.org", username="ann-1")
    make_user(email="aa-2@example.org", username="ann-2")
    monkeypatch.setattr(activity, "PAGE_SIZE", 4)

    pages, url = [], "/admin/?q=ann"
    while url:
        html = admin.get(url).get_data(as_text=True)
        pages.append(emails_on(html))
        url = next_link(html)

    assert pages == [
        ["ann_x@example.com", "anna@example.com", "anne@example.com", "annika@example.com"],
        ["annxx@example.com", "zz-1@example.org", "aa-2@example.org"],  # then by username
    ]
    back = admin.get(next_link(html, "prev")).get_data(as_text=True)
    assert emails_on(back) == pages[0]


def test_the_search_reads_an_index_in_order_and_stops_after_a_page(app, admin_user):
    """EXPLAIN at 20,000 users matching the prefix: index scans under a Limit, no Sort."""
    from db_helpers import add_users, explain, sent_statements
    from sqlalchemy import text

    from portal.extensions import db

    add_users(20000)
    db.session.execute(text("ANALYZE users"))
    with sent_statements(lambda sql: "FROM users" in sql) as captured:
        page = search_users("user1", limit=25)
        search_users("user1", after=page.next_cursor, limit=25)
    assert len(captured) == 2  # one statement a page while inside the email run
    for statement, parameters in captured:
        plan = explain(statement, parameters)
        assert plan.startswith("Limit"), plan
        assert "Index Scan using ix_users_email_c" in plan, plan
        assert "Sort" not in plan, plan
