"""Every admin route: anonymous -> sign in, signed-in non-admin -> 403, admin -> allowed."""

import pytest

from portal.extensions import db
from portal.models import User

PAGES = [
    "/admin/",
    "/admin/users/{id}",
    "/admin/users/{id}/delete",
    "/admin/events",
]
ACTIONS = [
    ("post", "/admin/users/{id}/sessions/{sid}/end"),
    ("delete", "/admin/users/{id}/sessions/{sid}"),
    ("post", "/admin/users/{id}/sessions/end-all"),
    ("post", "/admin/users/{id}/disable"),
    ("post", "/admin/users/{id}/enable"),
    ("post", "/admin/users/{id}/unlock"),
    ("post", "/admin/users/{id}/promote"),
    ("post", "/admin/users/{id}/demote"),
    ("post", "/admin/users/{id}/delete"),
    ("delete", "/admin/users/{id}"),
]


@pytest.fixture
def target(make_user, new_browser):
    """An account with one web session (its second browser)."""
    bob = make_user(email="bob@example.com", username="bob")
    new_browser().sign_in("bob@example.com")
    db.session.refresh(bob)
    return bob, bob.sessions[0]


def _path(template, target):
    bob, session = target
    return template.format(id=bob.id, sid=session.id)


@pytest.mark.parametrize("page", PAGES)
def test_pages_send_anonymous_people_to_sign_in(anon, target, page):
    response = anon.get(_path(page, target))
    assert response.status_code == 302
    assert "/signin" in response.headers["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_pages_are_forbidden_to_non_admins(member, target, page):
    response = member.get(_path(page, target))
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", PAGES)
def test_pages_open_for_admins(admin, target, page):
    assert admin.get(_path(page, target)).status_code == 200


@pytest.mark.parametrize(("method", "action"), ACTIONS)
def test_actions_send_anonymous_people_to_sign_in(anon, target, method, action):
    headers = {"X-CSRFToken": anon.csrf_token()}
    response = getattr(anon.client, method)(
        _path(action, target), data={"reason": "x"}, headers=headers
    )
    assert response.status_code == 302
    assert "/signin" in response.headers["Location"]
    bob = db.session.get(User, target[0].id)
    assert bob is not None and bob.is_active and not bob.is_admin


@pytest.mark.parametrize(("method", "action"), ACTIONS)
def test_actions_are_forbidden_to_non_admins(member, target, method, action):
    headers = {"X-CSRFToken": member.csrf_token("/profile")}
    response = getattr(member.client, method)(
        _path(action, target), data={"reason": "x"}, headers=headers
    )
    assert response.status_code == 403
    bob = db.session.get(User, target[0].id)
    assert bob is not None and bob.is_active and not bob.is_admin
    assert target[1].revoked_at is None


@pytest.mark.parametrize(("method", "action"), ACTIONS)
def test_actions_need_a_csrf_token(admin, target, method, action):
    response = getattr(admin.client, method)(_path(action, target), data={"reason": "x"})
    assert response.status_code == 400
    bob = db.session.get(User, target[0].id)
    assert bob is not None and bob.is_active and not bob.is_admin


@pytest.mark.parametrize(("method", "action"), ACTIONS)
def test_actions_work_for_admins(admin, target, method, action):
    headers = {"X-CSRFToken": admin.csrf_token("/admin/")}
    response = getattr(admin.client, method)(
        _path(action, target), data={"reason": "testing"}, headers=headers
    )
    # demote/enable on an account that is not admin/disabled is a no-op, still a success
    assert response.status_code == 303, response.get_data(as_text=True)


def test_admin_pages_are_never_reached_with_get_for_actions(admin, target):
    response = admin.get(_path("/admin/users/{id}/disable", target))
    assert response.status_code == 405
