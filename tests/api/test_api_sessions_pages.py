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


def test_the_list_is_the_json_of_one_session_model_per_session(api, tokens, user):
    """The list is written from its rows by orjson (api/schemas.py session_list_json): byte
    for byte the JSON of a SessionList of one SessionOut per session, field for field, in
    order; labels that need escaping and times with and without microseconds included."""
    from portal.api.schemas import SessionList, SessionOut
    from portal.extensions import db
    from portal.flows.sessions import active_sessions

    add_sessions(user, 3, kind="web")
    add_sessions(user, 2, kind="api")
    odd = [
        ('quote " back\\slash </script> & é', "2001:db8::1", 0),
        ("control \x01\x1f\x7f \u2028 tab\t newline\n", "", 5),
        ("日本語 😀 Ünïcode", "198.51.100.7", 120000),
    ]
    for session, (label, address, micro) in zip(active_sessions(user)[1:], odd, strict=False):
        session.device_label, session.ip_address = label, address
        session.last_seen_at = session.last_seen_at.replace(microsecond=micro)
        session.expires_at = session.expires_at.replace(microsecond=0)
    db.session.commit()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = api.client.get("/api/v1/sessions", headers=headers)

    sessions = active_sessions(user)  # newest first, as the list (ties: by id, both ways)
    body = response.get_json()
    current = next(
        s
        for s in sessions
        if str(s.id) == next(item["id"] for item in body["sessions"] if item["is_current"])
    )
    by_id = {str(s.id): s for s in sessions}
    expected = SessionList(
        sessions=[SessionOut.of(by_id[item["id"]], current.id) for item in body["sessions"]]
    )
    assert response.get_data(as_text=True) == expected.model_dump_json()
    assert response.mimetype == "application/json"
    assert len(body["sessions"]) == 6 and sum(item["is_current"] for item in body["sessions"]) == 1
    assert {item["kind"] for item in body["sessions"]} == {"web", "api"}
    assert {item["device"] for item in body["sessions"]} >= {label for label, _, _ in odd}
    written = " ".join(item["last_seen_at"] for item in body["sessions"])
    assert ".000005Z" in written and ".120000Z" in written, written  # as pydantic writes them
