"""Several mail workers at once, on real commits: each message is delivered exactly once
(SELECT ... FOR UPDATE SKIP LOCKED hands every row to one worker)."""

import contextvars

from race_helpers import all_at_once
from web_helpers import mail_files

from portal import outbox
from portal.extensions import db
from portal.flows import accounts
from portal.models import OutboxMessage, User


def test_three_workers_deliver_each_of_sixty_emails_once(live_app):
    live_app.config["MAIL_DELIVERY"] = "worker"
    with live_app.test_request_context("/"):
        user = User(email="owner@example.com", username="owner", password_hash="x")
        db.session.add(user)
        db.session.commit()
        for n in range(60):
            accounts.send(f"person{n}@example.com", "account_exists", capped=False, user=user)
        db.session.commit()

    def worker(ready):
        def run():
            with live_app.app_context():
                ready()
                done = outbox.worker_loop(once=True)
                db.session.remove()
                return done

        return contextvars.Context().run(run)

    handled = all_at_once(3, worker)

    sent = [m["to"][0] for m in mail_files(live_app)]
    assert sorted(sent) == sorted(f"person{n}@example.com" for n in range(60))  # once each
    assert sum(handled) == 60
    with live_app.app_context():
        statuses = {row.status for row in db.session.scalars(db.select(OutboxMessage))}
        assert statuses == {"sent"}


def test_the_worker_delivers_then_stops_cleanly_on_sigterm(live_app, tmp_path):
    """`flask --app portal mail worker` as operators run it: it delivers what is queued, and
    SIGTERM (docker stop) ends it at once with exit status 0, nothing lost."""
    import os
    import signal
    import subprocess
    import sys
    import time

    live_app.config["MAIL_DELIVERY"] = "worker"
    with live_app.test_request_context("/"):
        user = User(email="owner@example.com", username="owner", password_hash="x")
        db.session.add(user)
        db.session.commit()
        accounts.send("person@example.com", "account_exists", capped=False, user=user)
        db.session.commit()
    mail_dir = tmp_path / "worker-mail"
    env = {
        **os.environ,
        "DATABASE_URL": live_app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": live_app.config["SECRET_KEY"],
        "MAIL_BACKEND": "file",
        "MAIL_FILE_DIR": str(mail_dir),
        "PORTAL_BASE_URL": live_app.config["PORTAL_BASE_URL"],
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "mail", "worker", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (mail_dir.exists() and any(mail_dir.iterdir())):
            time.sleep(0.1)
        assert mail_dir.exists() and len(list(mail_dir.iterdir())) == 1
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "Mail worker stopped after 1 message(s)." in output
