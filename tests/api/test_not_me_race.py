"""A "this wasn't me" link submitted many times at once is spent once: real threads against a
served app on its own database, so the device row's lock (SELECT ... FOR UPDATE) decides."""

import requests
from race_helpers import all_at_once
from sqlalchemy import func, select
from web_helpers import csrf_token_in

from portal.extensions import db
from portal.flows import notices
from portal.models import Device, OutboxMessage, SecurityEvent, User

THREADS = 8


def test_concurrent_reports_of_one_link_end_the_account_once(live_app, live_server, live_user):
    email, password = live_user
    for _ in range(2):  # the account's first device (known quietly), then a new one: announced
        login = requests.post(
            f"{live_server}/api/v1/auth/login",
            json={"email": email, "password": password},
            timeout=10,
        )
        assert login.status_code == 200, login.text
    with live_app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        newest = db.session.scalar(
            select(Device).where(Device.user_id == user.id).order_by(Device.created_at.desc())
        )
        link = f"{live_server}/not-me/{notices._token_for(newest)}"
        db.session.remove()

    def report(ready):
        browser = requests.Session()
        page = browser.get(link, timeout=10)
        assert page.status_code == 200, page.text
        ready()
        return browser.post(link, data={"csrf_token": csrf_token_in(page.text)}, timeout=20)

    results = all_at_once(THREADS, report)

    assert sorted(r.status_code for r in results) == [200] + [400] * (THREADS - 1)
    with live_app.app_context():
        reported = select(func.count()).where(SecurityEvent.kind == "not_me_reported")
        assert db.session.scalar(reported) == 1
        resets = select(func.count()).where(OutboxMessage.kind == "reset_password")
        assert db.session.scalar(resets) == 1
        db.session.remove()
