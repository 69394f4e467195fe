"""Fixtures for the operations tests: a database of their own on the test server (real
commits: the portal runs in other processes), emptied after each test, and accounts in it."""

import uuid
from contextlib import contextmanager

import pytest
from db_helpers import app_config_for, database_url_for, migrate_fresh
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from web_helpers import PASSWORD

from portal import create_app
from portal.extensions import db
from portal.models import User
from portal.passwords import hash_password

OPS_DATABASE = "ops"  # portal_test_ops beside portal_test
# Two runs on one TEST_DATABASE_URL must not empty each other's tables mid-test.
OPS_LOCK = 740_4010


@pytest.fixture(scope="session")
def ops_database_url(tmp_path_factory) -> str:
    """<test database>_ops, emptied and migrated once per run, held by this run."""
    url = database_url_for(OPS_DATABASE)
    migrate_fresh(url, tmp_path_factory.mktemp("ops-migrate"))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": OPS_LOCK})
        yield url
        lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": OPS_LOCK})
    engine.dispose()


@contextmanager
def app_on(url: str, tmp_path, **overrides):
    """An app of this process on `url`, in its context (to write rows or run the worker)."""
    app = create_app(app_config_for(url, tmp_path, **overrides))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def empty_tables(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        tables = conn.scalars(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()


def add_user(url: str, tmp_path, email: str = "ops@example.com", password: str = PASSWORD):
    """A verified account, written directly: its id."""
    with app_on(url, tmp_path):
        user = User(
            id=uuid.uuid4(),
            email=email,
            username=email.split("@")[0],
            password_hash=hash_password(password),
            is_verified=True,
        )
        db.session.add(user)
        db.session.commit()
        return user.id


# -- for tests/ops/test_metrics.py ------------------------------------------------------------
# (Rebuilt after this file was overwritten by mistake while both were being written: the
# metrics tests want metrics on in the rolled-back `app`, and a served database.)


@pytest.fixture
def app_config():
    from ops_helpers import METRICS_TOKEN

    return {"METRICS_TOKEN": METRICS_TOKEN}


@pytest.fixture(scope="session")
def served_database_url(ops_database_url) -> str:
    return ops_database_url
