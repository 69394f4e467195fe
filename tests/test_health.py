"""Liveness and readiness."""


def test_health_answers_status_version_and_time(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["time"].endswith("+00:00")


def test_health_db_answers_when_select_1_works(client):
    response = client.get("/health/db")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_request_id_is_returned_and_taken_from_the_caller(client):
    assert (
        client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32
    # Junk is not echoed back into logs or headers.
    assert (
        client.get("/health", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
        != "bad id!"
    )
