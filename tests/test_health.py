"""Liveness and readiness."""

import pytest


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


def test_health_queue_reports_the_oldest_due_email(app, client, user):
    from datetime import timedelta

    from portal import clock
    from portal.extensions import db
    from portal.flows import accounts

    assert client.get("/health/queue").get_json() == {"status": "ok", "oldest_pending_seconds": 0}
    app.config["MAIL_DELIVERY"] = "worker"  # nothing delivers: the message waits
    with app.test_request_context("/"):
        accounts.send("alice@example.com", "account_exists", user=user)
        db.session.commit()
    clock.advance(timedelta(minutes=5))

    body = client.get("/health/queue").get_json()

    assert body["status"] == "ok" and 299 <= body["oldest_pending_seconds"] <= 301
    assert client.get("/health/db").status_code == 200  # readiness never waits on the queue


@pytest.mark.parametrize("path", ["/health/db", "/health/queue"])
def test_health_checks_answer_503_json_when_the_database_is_gone(app, client, monkeypatch, path):
    from sqlalchemy.exc import OperationalError

    from portal import outbox
    from portal.extensions import db

    def gone(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(outbox, "pending_age", gone)
    monkeypatch.setattr(db.session, "execute", gone)

    response = client.get(path)

    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
