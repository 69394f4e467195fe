"""GET/DELETE /sessions and /sessions/{id}: one list of devices shared with the web."""

import uuid

from api_helpers import assert_problem
from sqlalchemy import select

from portal.extensions import db
from portal.models import UserSession


def sid(tokens) -> str:
    import jwt

    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


def test_list_sessions_newest_first_web_and_api(api, auth, tokens):
    newer = api.login()
    response = api.get("/sessions", token=newer["access_token"])
    assert response.status_code == 200
    sessions = response.get_json()["sessions"]
    assert [s["kind"] for s in sessions] == ["api", "api", "web"]
    assert [s["id"] for s in sessions[:2]] == [sid(newer), sid(tokens)]
    assert [s["is_current"] for s in sessions] == [True, False, False]
    assert set(sessions[0]) == {
        "id",
        "kind",
        "device",
        "ip_address",
        "created_at",
        "last_seen_at",
        "expires_at",
        "is_current",
    }
    assert sessions[2]["device"] == "Firefox on Linux"


def test_api_sessions_show_on_the_web_sessions_page(api, auth, tokens):
    page = auth.get("/sessions").get_data(as_text=True)
    assert f"session-{sid(tokens)}" in page


def test_get_one_session(api, tokens, make_user):
    response = api.get(f"/sessions/{sid(tokens)}", token=tokens["access_token"])
    assert response.status_code == 200
    assert response.get_json()["is_current"] is True
    for other in (str(uuid.uuid4()), "not-a-uuid"):
        assert_problem(api.get(f"/sessions/{other}", token=tokens["access_token"]), 404)


def test_someone_elses_session_is_404(api, user, make_user, tokens):
    make_user(email="bob@example.com", username="bob")
    bob = api.login("bob@example.com")
    for method in ("get", "delete"):
        response = getattr(api, method)(f"/sessions/{sid(bob)}", token=tokens["access_token"])
        assert_problem(response, 404, "not_found")
    assert api.get("/users/me", token=bob["access_token"]).status_code == 200


def test_end_another_session(api, tokens):
    other = api.login()
    response = api.delete(f"/sessions/{sid(other)}", token=tokens["access_token"])
    assert response.status_code == 204
    assert_problem(api.get("/users/me", token=other["access_token"]), 401, "session_ended")
    assert_problem(api.get(f"/sessions/{sid(other)}", token=tokens["access_token"]), 404)
    assert_problem(api.delete(f"/sessions/{sid(other)}", token=tokens["access_token"]), 404)


def test_end_this_session(api, tokens):
    assert api.delete(f"/sessions/{sid(tokens)}", token=tokens["access_token"]).status_code == 204
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")


def test_end_other_sessions(api, auth, tokens):
    other = api.login()
    assert api.delete("/sessions", token=tokens["access_token"]).status_code == 204
    assert api.get("/users/me", token=tokens["access_token"]).status_code == 200
    assert_problem(api.get("/users/me", token=other["access_token"]), 401, "session_ended")
    assert auth.get("/sessions").status_code in (302, 303)
    sessions = api.get("/sessions", token=tokens["access_token"]).get_json()["sessions"]
    assert [s["id"] for s in sessions] == [sid(tokens)]


def test_session_ended_on_the_web_page_kills_its_api_token_at_once(api, auth, tokens):
    response = auth.post(f"/sessions/{sid(tokens)}/end", form_page="/sessions")
    assert response.status_code in (302, 303)
    assert_problem(api.get("/users/me", token=tokens["access_token"]), 401, "session_ended")
    assert_problem(
        api.post("/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 401, "session_ended"
    )


def test_web_session_ended_through_the_api_signs_the_browser_out(api, auth, tokens):
    assert auth.get("/sessions").status_code == 200
    web = db.session.scalar(select(UserSession).where(UserSession.kind == "web"))
    response = api.delete(f"/sessions/{web.id}", token=tokens["access_token"])
    assert response.status_code == 204
    assert auth.get("/sessions").status_code in (302, 303)


def test_sessions_need_a_token(api):
    assert_problem(api.get("/sessions"), 401, "invalid_token")
    assert_problem(api.delete("/sessions"), 401, "invalid_token")
    assert_problem(api.get(f"/sessions/{uuid.uuid4()}"), 401, "invalid_token")
