"""Disable, enable, promote, demote and delete; never oneself, never the last admin."""

import pytest
from sqlalchemy import select
from web_helpers import PASSWORD

from portal.extensions import db
from portal.flows import FlowError
from portal.flows import admin as flows
from portal.models import SecurityEvent, User, UserSession
from portal.origin import Origin


def events(kind) -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


def act(admin, user, action, data=None):
    return admin.post(
        f"/admin/users/{user.id}/{action}", data or {}, form_page=f"/admin/users/{user.id}"
    )


def test_disabling_ends_every_session_and_blocks_sign_in(
    admin, member, new_browser, user, admin_user
):
    response = act(admin, user, "disable", {"reason": "fraud report"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert not user.is_active
    sessions = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id))
    assert [s.revoked_reason for s in sessions] == [
        "Account disabled by an administrator: fraud report"
    ]
    assert member.get("/profile").status_code == 302  # signed out on the next request

    response = new_browser().post("/signin", {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "This account has been disabled" in response.get_data(as_text=True)
    [event] = events("account_disabled")
    assert event.actor_id == admin_user.id and event.user_id == user.id
    assert event.data == {"sessions_ended": "1", "reason": "fraud report"}

    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "Disabled" in page and "Enable account" in page


def test_disabled_accounts_cannot_sign_in_through_the_api(app, admin, user):
    act(admin, user, "disable")
    response = app.test_client().post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "account_disabled"


def test_enabling_lets_them_sign_in_again(admin, new_browser, make_user, admin_user):
    bob = make_user(email="bob@example.com", username="bob", active=False)
    assert act(admin, bob, "enable").status_code == 303
    db.session.refresh(bob)
    assert bob.is_active
    new_browser().sign_in("bob@example.com", PASSWORD)
    [event] = events("account_enabled")
    assert event.actor_id == admin_user.id


def test_promote_and_demote_are_recorded_with_the_admin_as_actor(admin, user, admin_user, member):
    assert "Admin" not in _nav(member)
    assert act(admin, user, "promote").status_code == 303
    db.session.refresh(user)
    assert user.is_admin
    assert member.get("/admin/").status_code == 200
    assert "Admin" in _nav(member)

    assert act(admin, user, "demote").status_code == 303
    db.session.refresh(user)
    assert not user.is_admin
    assert member.get("/admin/").status_code == 403
    assert [e.actor_id for e in events("admin_promoted")] == [admin_user.id]
    assert [e.actor_id for e in events("admin_demoted")] == [admin_user.id]


def _nav(browser) -> str:
    html = browser.get("/profile").get_data(as_text=True)
    return html[html.index("<nav") : html.index("</nav>")]


@pytest.mark.parametrize("action", ["disable", "demote", "delete"])
def test_an_admin_cannot_disable_demote_or_delete_themselves(admin, admin_user, make_user, action):
    make_user(email="second@example.com", username="second", admin=True)
    response = act(admin, admin_user, action)
    assert response.status_code == 403
    assert "your own account" in response.get_data(as_text=True)
    db.session.refresh(admin_user)
    assert admin_user.is_admin and admin_user.is_active
    assert admin.get("/admin/").status_code == 200


def test_the_user_page_offers_no_self_destruction(admin, admin_user):
    html = admin.get(f"/admin/users/{admin_user.id}").get_data(as_text=True)
    assert "Disable account" not in html and "Delete account" not in html
    assert "Remove admin rights" not in html


def test_the_last_admin_cannot_be_demoted_disabled_or_deleted(app, admin_user, make_user):
    # Reachable only when the actor is no longer an admin (e.g. demoted a moment ago by the
    # CLI) or from the CLI itself: the flows refuse whatever the caller.
    former = make_user(email="former@example.com", username="former")
    origin = Origin()
    for action in (
        lambda: flows.demote(former, admin_user, origin),
        lambda: flows.demote(None, admin_user),
        lambda: flows.disable_user(former, admin_user.id, origin),
        lambda: flows.delete_user(former, admin_user.id, origin),
    ):
        with pytest.raises(FlowError) as error:
            action()
        assert error.value.code == "forbidden"
        assert "last admin" in error.value.message
    db.session.refresh(admin_user)
    assert admin_user.is_admin and admin_user.is_active


def test_a_disabled_admin_does_not_count_as_the_other_admin(app, admin_user, make_user):
    make_user(email="off@example.com", username="off", admin=True, active=False)
    with pytest.raises(FlowError):
        flows.demote(None, admin_user)
    assert flows.admin_count() == 1


def test_another_admin_can_be_demoted_while_one_remains(admin, make_user):
    second = make_user(email="second@example.com", username="second", admin=True)
    assert act(admin, second, "demote").status_code == 303
    db.session.refresh(second)
    assert not second.is_admin


def test_delete_asks_first_then_deletes_for_good(admin, user, member, outbox, admin_user):
    page = admin.get(f"/admin/users/{user.id}/delete")
    assert page.status_code == 200
    assert "cannot be undone" in page.get_data(as_text=True)
    assert db.session.get(User, user.id) is not None  # a GET never deletes

    user_id, admin_id = user.id, admin_user.id
    response = admin.post(
        f"/admin/users/{user_id}/delete", form_page=f"/admin/users/{user_id}/delete"
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/")
    db.session.expunge_all()
    assert db.session.get(User, user_id) is None
    assert member.get("/profile").status_code == 302
    assert [m["kind"] for m in outbox] == ["account_deleted"]
    assert "An administrator deleted your Portal account" in outbox[0]["text"]
    [event] = events("account_deleted")
    assert event.actor_id == admin_id
    assert event.user_id is None and event.email == "alice@example.com"  # kept, detached
    html = admin.get("/admin/events?kind=account_deleted").get_data(as_text=True)
    assert "root@example.com deleted the account alice@example.com" in html


def test_htmx_delete_redirects_the_page(admin, user):
    token = admin.csrf_token(f"/admin/users/{user.id}/delete")
    response = admin.client.delete(
        f"/admin/users/{user.id}", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/admin/"


def test_unknown_users_are_not_found(admin):
    assert admin.get("/admin/users/not-a-uuid").status_code == 404
    assert admin.get("/admin/users/00000000-0000-0000-0000-000000000000").status_code == 404
    response = admin.post(
        "/admin/users/00000000-0000-0000-0000-000000000000/disable", form_page="/admin/"
    )
    assert response.status_code == 404
