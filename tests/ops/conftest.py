"""Fixtures for the operations tests: a database of their own on the test server (real
commits: the portal runs in other processes); tests/ops/servers.py has the servers."""

import pytest
from db_helpers import database_url_for, ensure_database, migrate_fresh
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

OPS_DATABASE = "ops"  # portal_test_ops beside portal_test
# Two runs on one TEST_DATABASE_URL must not empty each other's tables mid-test.
OPS_LOCK = 740_4010


@pytest.fixture(scope="session")
def ops_database_url(tmp_path_factory) -> str:
    """<test database>_ops, emptied and migrated once per run, held by this run."""
    url = database_url_for(OPS_DATABASE)
    ensure_database(url)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": OPS_LOCK})
        migrate_fresh(url, tmp_path_factory.mktemp("ops-migrate"))
        yield url
        lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": OPS_LOCK})
    engine.dispose()


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
