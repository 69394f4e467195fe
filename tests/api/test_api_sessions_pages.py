"""GET /sessions a page at a time: up to 100 by default, `next_cursor` for more."""

import pytest
from db_helpers import add_sessions


def test_the_api_answers_up_to_100_with_a_cursor_for_more(api, tokens, user):
    add_sessions(user, 130, kind="api")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    first = api.client.get("/api/v1/sessions", headers=headers).get_json()
    assert len(first["sessions"]) == 100 and first["next_cursor"]
    assert first["sessions"][0]["is_current"]
    rest = api.client.get(
        f"/api/v1/sessions?cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert len(rest["sessions"]) == 31 and rest["next_cursor"] is None
    small = api.client.get("/api/v1/sessions?limit=10", headers=headers).get_json()
    assert len(small["sessions"]) == 10


def test_under_the_cap_todays_clients_see_every_session_and_no_cursor(api, tokens, user):
    add_sessions(user, 20, kind="api")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    body = api.client.get("/api/v1/sessions", headers=headers).get_json()

    assert len(body["sessions"]) == 21 and body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("cursor=zz", "cursor")],
)
def test_bad_paging_arguments_are_422(api, tokens, query, field):
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = api.client.get(f"/api/v1/sessions?{query}", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"].keys() == {field}
