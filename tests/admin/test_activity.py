"""The Activity page (own events in plain words) and the admin's global events page."""

import re
import uuid

import pytest
from web_helpers import FIREFOX_UA, PASSWORD, PHONE_UA

from portal.extensions import db
from portal.flows import activity, events
from portal.models import SecurityEvent
from portal.origin import Origin


def rows(html: str) -> list[str]:
    """The text of each event row, tags stripped."""
    found = re.findall(r'<tr id="event-\d+">(.*?)</tr>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in found]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_activity_needs_sign_in(anon):
    response = anon.get("/activity")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_activity_shows_own_events_in_plain_words_newest_first(member, user, make_user):
    other = make_user(email="bob@example.com", username="bob")
    events.record("signed_in", other, origin=Origin("198.51.100.1", FIREFOX_UA))
    events.record("sign_in_failed", user, origin=Origin("203.0.113.7", FIREFOX_UA))
    db.session.commit()

    html = member.get("/activity").get_data(as_text=True)
    texts = rows(html)
    assert "Wrong password entered from Firefox on Linux, 203.0.113.7" in texts[0]
    assert "Signed in from Firefox on Linux, 127.0.0.1" in texts[1]
    assert "198.51.100.1" not in html  # nobody else's events
    assert "UTC" in texts[0]


def test_activity_is_paginated_by_id(member, user, monkeypatch):
    monkeypatch.setattr(activity, "PAGE_SIZE", 4)
    for i in range(9):
        events.record("username_changed", user, old=f"old{i}", new=f"new{i}")
    db.session.commit()  # 10 events with the sign-in

    first = member.get("/activity").get_data(as_text=True)
    assert len(rows(first)) == 4 and "old8" in rows(first)[0]
    assert link(first, "prev") is None
    second = member.get(link(first, "next")).get_data(as_text=True)
    assert [r.split("from ")[1].split(" ")[0] for r in rows(second)] == [
        "old4",
        "old3",
        "old2",
        "old1",
    ]
    third = member.get(link(second, "next")).get_data(as_text=True)
    assert len(rows(third)) == 2 and "Signed in" in rows(third)[-1]
    assert link(third, "next") is None
    back = member.get(link(third, "prev")).get_data(as_text=True)
    assert rows(back) == rows(second)
    assert rows(member.get(link(back, "prev")).get_data(as_text=True)) == rows(first)


def test_activity_pages_answer_htmx_with_the_list_only(member):
    response = member.get("/activity", headers={"HX-Request": "true"})
    assert response.get_data(as_text=True).lstrip().startswith('<div id="activity">')


def test_the_owner_reads_what_an_admin_did_without_the_admin_name(
    admin, admin_user, user, new_browser
):
    phone = new_browser(PHONE_UA)
    phone.sign_in("alice@example.com", PASSWORD)
    session = next(s for s in user.sessions if s.is_active)
    admin.post(
        f"/admin/users/{user.id}/sessions/{session.id}/end",
        {"reason": "lost device"},
        form_page=f"/admin/users/{user.id}",
    )
    # the phone is signed out; on another device alice reads why
    laptop = new_browser(FIREFOX_UA)
    laptop.sign_in("alice@example.com", PASSWORD)
    html = laptop.get("/activity").get_data(as_text=True)
    assert "An administrator ended your session on Mobile Safari on iOS: lost device" in html
    assert "root@example.com" not in html
    # the admin reads who did it
    html = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "root@example.com ended their session on Mobile Safari on iOS: lost device" in html


def _event(kind, *, actor=False, ip="203.0.113.7", label="Firefox on Linux", **data):
    user_id = uuid.uuid4()
    event = SecurityEvent(
        kind=kind,
        user_id=user_id,
        actor_id=uuid.uuid4() if actor else None,
        email="alice@example.com",
        ip_address=ip,
        device_label=label,
        data={k: str(v) for k, v in data.items()},
    )
    return event


@pytest.mark.parametrize(
    ("event", "owner_reads"),
    [
        (_event("signed_up"), "Account created from Firefox on Linux, 203.0.113.7"),
        (_event("email_verified"), "Email address alice@example.com confirmed from"),
        (_event("signed_in"), "Signed in from Firefox on Linux, 203.0.113.7"),
        (_event("signed_in", method="email code"), "Signed in with the emailed code from"),
        (_event("signed_in", ip="", label=""), "Signed in"),
        (_event("sign_in_failed"), "Wrong password entered from Firefox on Linux, 203.0.113.7"),
        (_event("signed_out"), "Signed out on Firefox on Linux, 203.0.113.7"),
        (_event("signed_out_everywhere", count=3), "Signed out on every device (3 sessions)"),
        (_event("session_ended", device="Safari on iOS"), "Ended the session on Safari on iOS"),
        (
            _event("session_ended", actor=True, device="iPhone", reason="lost device"),
            "An administrator ended your session on iPhone: lost device",
        ),
        (_event("other_sessions_ended", count=1), "Signed out 1 session on other devices"),
        (
            _event("all_sessions_ended", actor=True, count=2, reason="hacked"),
            "An administrator ended all your sessions (2 sessions): hacked",
        ),
        (_event("password_changed", sessions_ended=1), "Password changed from Firefox"),
        (_event("password_reset_requested"), "Password reset link requested from"),
        (_event("password_reset_completed"), "Password reset with an emailed link"),
        (
            _event("email_change_requested", new="a@b.c"),
            "Asked to change the email address to a@b.c",
        ),
        (
            _event("email_changed", old="a@b.c", new="d@e.f"),
            "Email address changed from a@b.c to d@e.f",
        ),
        (_event("username_changed", old="al", new="ali"), "Username changed from al to ali"),
        (
            _event("refresh_token_reused", device="PortalApp"),
            "An old app sign-in token for PortalApp was used again from Firefox on Linux",
        ),
        (
            _event("account_disabled", actor=True, reason="fraud"),
            "An administrator disabled the account: fraud",
        ),
        (_event("account_enabled", actor=True), "An administrator enabled the account again"),
        (_event("account_deleted"), "Account alice@example.com deleted"),
        (_event("admin_created"), "Admin account created from the command line"),
        (_event("admin_promoted", via="cli"), "Administrator rights given from the command line"),
        (
            _event("admin_demoted", actor=True),
            "Administrator rights taken away by an administrator",
        ),
        (_event("something_new"), "Something new from Firefox on Linux"),
    ],
)
def test_every_kind_reads_as_a_sentence(event, owner_reads):
    assert activity.describe(event).startswith(owner_reads)
    assert activity.describe(event, for_owner=False)  # the admin wording exists too


def test_every_kind_the_flows_write_has_a_label():
    assert set(activity.KINDS) >= {
        "signed_up", "email_verified", "signed_in", "sign_in_failed", "signed_out",
        "signed_out_everywhere", "session_ended", "other_sessions_ended", "all_sessions_ended",
        "password_changed", "password_reset_requested", "password_reset_completed",
        "email_change_requested", "email_changed", "username_changed", "refresh_token_reused",
        "account_disabled", "account_enabled", "account_deleted", "admin_created",
        "admin_promoted", "admin_demoted",
    }  # fmt: skip


# -- the admin's events page ---------------------------------------------------------------


def test_admin_events_are_filtered_by_kind(admin, user, make_user):
    bob = make_user(email="bob@example.com", username="bob")
    events.record("sign_in_failed", bob, origin=Origin("198.51.100.9", FIREFOX_UA))
    events.record("sign_in_failed", user, origin=Origin("203.0.113.7", FIREFOX_UA))
    db.session.commit()

    html = admin.get("/admin/events?kind=sign_in_failed").get_data(as_text=True)
    texts = rows(html)
    assert len(texts) == 2
    assert "alice@example.com" in texts[0] and "bob@example.com" in texts[1]
    assert '<option value="sign_in_failed" selected>' in html

    everything = rows(admin.get("/admin/events").get_data(as_text=True))
    assert any("Signed in" in t for t in everything)  # the admin's own sign-in

    assert rows(admin.get("/admin/events?kind=nonsense").get_data(as_text=True)) == []


def test_admin_events_of_one_account_and_pages(admin, user, monkeypatch):
    monkeypatch.setattr(activity, "PAGE_SIZE", 2)
    for i in range(3):
        events.record("username_changed", user, old=f"o{i}", new=f"n{i}")
    db.session.commit()
    html = admin.get(f"/admin/events?user={user.id}").get_data(as_text=True)
    assert f"Security events of {user.email}" in html
    assert len(rows(html)) == 2
    next_url = link(html, "next")
    assert f"user={user.id}" in next_url
    second = admin.get(next_url).get_data(as_text=True)
    assert len(rows(second)) == 1 and link(second, "next") is None
    assert "root@example.com" not in second  # only alice's events

    kind_and_page = admin.get("/admin/events?kind=username_changed&before=999999999")
    assert len(rows(kind_and_page.get_data(as_text=True))) == 2
    assert "kind=username_changed" in link(kind_and_page.get_data(as_text=True), "next")


def test_admin_events_answer_htmx_with_the_list_only(admin):
    response = admin.get("/admin/events?kind=signed_in", headers={"HX-Request": "true"})
    assert response.get_data(as_text=True).lstrip().startswith('<div id="events">')


def test_admin_events_page_costs_the_same_statements_for_any_number_of_rows(
    admin, make_user, count_queries
):
    admin.get("/admin/events")

    def statements() -> int:
        with count_queries() as executed:
            admin.get("/admin/events")
        return len(executed)

    few = statements()
    for _ in range(10):
        someone = make_user()
        events.record("account_disabled", someone, actor=someone)
    db.session.commit()
    assert statements() == few


@pytest.mark.parametrize("cursor", ["before=99999999999999999999999", "after=-5", "before=abc"])
def test_odd_cursors_are_ignored_not_errors(member, admin, cursor):
    assert member.get(f"/activity?{cursor}").status_code == 200
    assert admin.get(f"/admin/events?{cursor}").status_code == 200
    assert admin.get(f"/admin/?{cursor}").status_code == 200


def test_reasons_are_shown_as_text_never_markup(admin, user, member):
    session = next(s for s in user.sessions if s.is_active)
    admin.post(
        f"/admin/users/{user.id}/sessions/{session.id}/end",
        {"reason": "<script>alert(1)</script>"},
        form_page=f"/admin/users/{user.id}",
    )
    html = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
