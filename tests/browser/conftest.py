"""A served portal for real-browser tests: its own database (real commits), at
http://localhost:<port> (the host is the passkeys' RP ID: browsers refuse passkeys on an IP
address), emails written as files."""

import threading

import pytest
from db_helpers import app_config_for, database_url_for, migrate_fresh
from sqlalchemy import text
from werkzeug.serving import make_server

from portal import clock, create_app
from portal.extensions import db


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory) -> str:
    """<test database>_browser, created if missing, emptied and migrated once per run."""
    url = database_url_for("browser")
    migrate_fresh(url, tmp_path_factory.mktemp("browser-migrate"))
    return url


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, shared by a module's tests (each page has its own context)."""
    # Imported here: browsing skips the module when Chromium or Playwright is missing.
    from browsing import ARGS, CHROMIUM, sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def served(browser_database_url, tmp_path):
    """(app, base URL): the portal served by werkzeug in a thread; every table is emptied
    afterwards."""
    app = create_app(app_config_for(browser_database_url, tmp_path))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://localhost:{server.server_port}"
    app.config["PORTAL_BASE_URL"] = base  # links in emails, and the RP ID: localhost
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        with app.app_context():
            tables = ", ".join(
                f'"{t.name}"' for t in db.metadata.sorted_tables if t.name != "alembic_version"
            )
            db.session.execute(text(f"TRUNCATE {tables} CASCADE"))
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        clock.reset()
