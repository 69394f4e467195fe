"""DELETE /users/{id}: admins only."""

import uuid

import pytest
from api_helpers import assert_problem

from portal.extensions import db
from portal.models import User


@pytest.fixture
def root(make_user):
    return make_user(email="root@example.com", username="root", admin=True)


def test_admin_deletes_a_user(api, root, user, outbox):
    admin_tokens = api.login("root@example.com")
    alice = api.login()
    outbox.clear()  # the two "new sign-in" notices
    user_id = user.id
    response = api.delete(f"/users/{user_id}", token=admin_tokens["access_token"])
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    assert_problem(api.get("/users/me", token=alice["access_token"]), 401)
    assert [m["kind"] for m in outbox] == ["account_deleted"]


def test_non_admins_get_403(api, root, user, tokens):
    response = api.delete(f"/users/{root.id}", token=tokens["access_token"])
    assert_problem(response, 403, "forbidden")
    response = api.delete(f"/users/{uuid.uuid4()}", token=tokens["access_token"])
    assert_problem(response, 403, "forbidden")
    assert db.session.get(User, root.id) is not None


def test_unknown_user_is_404(api, root):
    admin_tokens = api.login("root@example.com")
    for user_id in (uuid.uuid4(), "not-a-uuid"):
        response = api.delete(f"/users/{user_id}", token=admin_tokens["access_token"])
        assert_problem(response, 404, "not_found")


def test_admin_cannot_delete_themselves(api, root):
    admin_tokens = api.login("root@example.com")
    response = api.delete(f"/users/{root.id}", token=admin_tokens["access_token"])
    assert_problem(response, 403, "forbidden")


def test_anonymous_gets_401(api, user):
    assert_problem(api.delete(f"/users/{user.id}"), 401, "invalid_token")
