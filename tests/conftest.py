"""Fixtures: a real PostgreSQL database migrated once per run, each test in a transaction
that is rolled back at the end (the app's own commits become savepoints)."""

import uuid

import pytest

# Helpers live in their own module: test files import them from there, since the name
# `conftest` is ambiguous once tests/api and tests/admin have their own.
from db_helpers import app_config_for, database_url_for, migrate_fresh, sent_statements
from flask_sqlalchemy.session import Session as FlaskSession
from redis_helpers import redis_server
from web_helpers import PASSWORD, PHONE_UA, Browser, ClosingClient

from portal import clock, create_app, one_time_secrets
from portal.email import email_sent
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = database_url_for()
    migrate_fresh(url, tmp_path_factory.mktemp("migrate"))
    return url


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy's session picks engines by bind key; in tests it must use the one
    connection that holds the test's transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def app_config():
    """Override to change the app's configuration in one test module."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_config):
    app = create_app(app_config_for(database_url, tmp_path, **app_config))
    app.test_client_class = ClosingClient
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "class_": _ConnectionSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield app
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()
            db.engine.dispose()
            clock.reset()


@pytest.fixture
def make_app(database_url, tmp_path, app):
    """Another app on the test's database transaction, e.g. in production mode:
    `make_app(PORTAL_ENV="production")`; `drop=[...]` leaves test settings out (defaults)."""

    def make(drop=(), **overrides):
        config = app_config_for(database_url, tmp_path, **overrides)
        for name in drop:
            del config[name]
        other = create_app(config)
        other.test_client_class = ClosingClient
        return other

    return make


@pytest.fixture
def outbox(app):
    """Every email sent during the test, as the dicts the `file` backend writes."""
    messages: list[dict] = []

    def collect(sender, message, **extra):
        messages.append(message)

    email_sent.connect(collect)
    yield messages
    email_sent.disconnect(collect)


@pytest.fixture
def make_user(app):
    """Create an account directly in the database (verified unless told otherwise)."""

    def make(
        email=None, username=None, password=PASSWORD, *, verified=True, admin=False, active=True
    ) -> User:
        name = username or f"user{uuid.uuid4().hex[:8]}"
        user = User(
            id=uuid.uuid4(),
            email=(email or f"{name}@example.com").lower(),
            username=name.lower(),
            password_hash=hash_password(password),
            is_verified=verified,
            is_admin=admin,
            is_active=active,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def user(make_user):
    return make_user(email="alice@example.com", username="alice")


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def auth(browser, user):
    """A browser signed in as `user` (for real: the sign-in form with a CSRF token)."""
    browser.sign_in()
    return browser


@pytest.fixture
def new_browser(app):
    """Another browser (its own cookie jar), e.g. a second device."""

    def make(user_agent=PHONE_UA):
        return Browser(app.test_client(), user_agent)

    return make


@pytest.fixture(scope="module")
def own_redis():
    """A private redis-server for the module's tests (never the shared one)."""
    with redis_server() as server:
        yield server


@pytest.fixture(params=["memory", "redis"])
def limiter_storage(request):
    """Where the rate limiter counts, each test run twice: in memory (development) and in
    Redis (production, shared by workers)."""
    if request.param == "memory":
        return "memory://"
    server = request.getfixturevalue("own_redis")
    server.flush()  # our own server: every test starts from zero
    return server.url


@pytest.fixture
def distinct_codes(monkeypatch):
    """Each emailed code differs from those drawn before it in the test (two random draws
    match once in a million), so a test can show that an older or another sign-up's code
    is refused, every time."""
    drawn: set[str] = set()
    draw = one_time_secrets.new_code

    def new_code() -> str:
        code = draw()
        while code in drawn:
            code = draw()
        drawn.add(code)
        return code

    monkeypatch.setattr(one_time_secrets, "new_code", new_code)


@pytest.fixture
def count_queries(app):
    """Count SQL statements run while the block is active: `with count_queries() as n:`
    (the test's own savepoints left out)."""

    def counted(statement: str) -> bool:
        return not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))

    return lambda: sent_statements(counted, with_parameters=False)
