"""Configuration from the environment (README "Configuration")."""

import logging
import os
import secrets

import pytest
from sqlalchemy import text

from portal import ROOT, create_app
from portal.config import ENV_NAMES, ConfigError, load_config
from portal.extensions import db

STRONG_SECRET = secrets.token_urlsafe(48)
REDIS = "redis://redis:6379/0"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Only what a test sets: the machine's own PORTAL_* or DATABASE_URL must not leak in."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(tmp_path):
    config = load_config(str(tmp_path))

    assert config["PORTAL_ENV"] == "development"
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path}/portal.sqlite3"
    assert config["SQLALCHEMY_DATABASE_URI"] == config["DATABASE_URL"]
    assert config["PORTAL_BASE_URL"] == "http://localhost:5000"
    assert config["MAIL_BACKEND"] == "console"
    assert config["MAIL_FROM"] == "Portal <noreply@localhost>"
    assert config["MAIL_FILE_DIR"] == str(tmp_path / "mail")
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert len(config["SECRET_KEY"]) >= 32  # random per start in development
    assert len(config["JWT_SECRET_KEY"]) >= 32
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SESSION_COOKIE_SECURE"] is False
    assert (config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"]) == (2, 19456)


def test_development_keys_differ_per_start(tmp_path):
    assert load_config(str(tmp_path))["SECRET_KEY"] != load_config(str(tmp_path))["SECRET_KEY"]


def test_values_come_from_the_environment(tmp_path, clean_environment):
    env = {
        "DATABASE_URL": "postgresql+psycopg://u@db/portal",
        "SECRET_KEY": STRONG_SECRET,
        "PORTAL_BASE_URL": "https://accounts.example.com/",
        "MAIL_BACKEND": "file",
        "MAIL_FROM": "Accounts <accounts@example.com>",
        "MAIL_FILE_DIR": "/var/mail/portal",
        "RATELIMIT_STORAGE_URI": "redis://redis:6379/0",
    }
    for name, value in env.items():
        clean_environment.setenv(name, value)

    config = load_config(str(tmp_path))

    assert config["PORTAL_BASE_URL"] == "https://accounts.example.com"  # no trailing slash
    for name in ("DATABASE_URL", "SECRET_KEY", "MAIL_BACKEND", "MAIL_FROM", "MAIL_FILE_DIR"):
        assert config[name] == env[name]
    assert config["RATELIMIT_STORAGE_URI"] == env["RATELIMIT_STORAGE_URI"]


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "secret", "x" * 31, "Password"])
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path, secret):
    overrides = {"PORTAL_ENV": "production", "MAIL_BACKEND": "console"}
    if secret is not None:
        overrides["SECRET_KEY"] = secret

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), overrides)


def test_production_refuses_to_start_from_the_environment(clean_environment):
    clean_environment.setenv("PORTAL_ENV", "production")
    clean_environment.setenv("MAIL_BACKEND", "console")
    clean_environment.setenv("SECRET_KEY", "changeme")

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_sets_secure_cookies_and_resend(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": STRONG_SECRET,
            "RESEND_API_KEY": "re_x",
            "RATELIMIT_STORAGE_URI": REDIS,
        },
    )

    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_NAME"] == "__Host-portal"
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["MAIL_BACKEND"] == "resend"


def test_production_with_resend_needs_an_api_key(tmp_path):
    with pytest.raises(ConfigError, match="RESEND_API_KEY"):
        load_config(
            str(tmp_path),
            {
                "PORTAL_ENV": "production",
                "SECRET_KEY": STRONG_SECRET,
                "RATELIMIT_STORAGE_URI": REDIS,
            },
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
        ({"MAIL_BACKEND": "smtp"}, "MAIL_BACKEND"),
        ({"JWT_SECRET_KEY": "short"}, "JWT_SECRET_KEY"),
        ({"PROXY_FIX_HOPS": "two"}, "PROXY_FIX_HOPS"),
    ],
)
def test_nonsense_is_refused_with_a_clear_message(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), overrides)


def test_jwt_key_is_derived_from_the_secret_key(tmp_path):
    one = load_config(str(tmp_path), {"SECRET_KEY": STRONG_SECRET})
    two = load_config(str(tmp_path), {"SECRET_KEY": STRONG_SECRET})

    assert one["JWT_SECRET_KEY"] == two["JWT_SECRET_KEY"] != STRONG_SECRET


@pytest.mark.parametrize(
    "secret",
    [
        "change-me-to-48-random-characters",  # .env.example's sample
        "Change-Me-" + secrets.token_urlsafe(32),
        "changeme" + secrets.token_urlsafe(32),
        "our-example-secret-" + secrets.token_urlsafe(24),
        "PLACEHOLDER-" + secrets.token_urlsafe(32),
        "x" * 48,
        "abab" * 12,
    ],
)
def test_production_refuses_placeholder_secret_keys(tmp_path, secret):
    overrides = {
        "PORTAL_ENV": "production",
        "MAIL_BACKEND": "console",
        "RATELIMIT_STORAGE_URI": REDIS,
        "SECRET_KEY": secret,
    }

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), overrides)


def _env_example() -> dict:
    with open(os.path.join(ROOT, ".env.example"), encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_env_example_is_refused_until_its_secret_key_is_replaced(clean_environment):
    for name, value in {**_env_example(), "RESEND_API_KEY": "re_x"}.items():
        clean_environment.setenv(name, value)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()

    clean_environment.setenv("SECRET_KEY", STRONG_SECRET)
    assert create_app().config["RATELIMIT_STORAGE_URI"].startswith("redis://")


def test_the_env_example_tells_how_to_make_a_secret_key():
    with open(os.path.join(ROOT, ".env.example"), encoding="utf-8") as fh:
        assert "secrets.token_urlsafe(48)" in fh.read()


@pytest.mark.parametrize("storage", [None, "memory://", "MEMORY://"])
def test_production_refuses_per_process_rate_limit_storage(clean_environment, storage):
    clean_environment.setenv("PORTAL_ENV", "production")
    clean_environment.setenv("MAIL_BACKEND", "console")
    clean_environment.setenv("SECRET_KEY", STRONG_SECRET)
    if storage:
        clean_environment.setenv("RATELIMIT_STORAGE_URI", storage)

    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI") as refused:
        create_app()
    assert "memory://" in str(refused.value).lower()


def test_development_may_count_in_memory(tmp_path):
    assert load_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"


def test_redis_storage_gives_up_quickly_and_falls_back_to_memory(tmp_path):
    config = load_config(
        str(tmp_path),
        {
            "PORTAL_ENV": "production",
            "MAIL_BACKEND": "console",
            "SECRET_KEY": STRONG_SECRET,
            "RATELIMIT_STORAGE_URI": REDIS,
        },
    )

    assert config["RATELIMIT_STORAGE_OPTIONS"] == {
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
    }
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert config["RATELIMIT_SWALLOW_ERRORS"] is True


def test_sql_parameters_are_hidden_and_connecting_gives_up(tmp_path):
    """No pool_pre_ping round trip per request: portal/database.py checks connections for
    free (tests/ops/test_faults.py restarts PostgreSQL under load)."""
    options = load_config(
        str(tmp_path),
        {
            "DATABASE_URL": "postgresql+psycopg://portal@db/portal",
            "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": False, "echo": False},
        },
    )["SQLALCHEMY_ENGINE_OPTIONS"]

    assert options == {
        "connect_args": {"connect_timeout": 3},
        "hide_parameters": True,
        "echo": False,
    }


def test_sql_parameters_never_reach_the_error_log(app, client, caplog):
    @app.get("/test-sql-error")
    def sql_error():
        db.session.execute(
            text("SELECT CAST(:email AS text), 1 / 0"), {"email": "secret.person@example.com"}
        )

    caplog.set_level(logging.INFO)
    response = client.get("/test-sql-error")

    assert response.status_code == 500
    assert "division by zero" in caplog.text  # the error and its SQL are logged...
    assert "SELECT CAST(%(email)s AS text)" in caplog.text
    assert "parameters hidden" in caplog.text
    assert "secret.person" not in caplog.text  # ...its values are not


def test_a_served_app_leaves_its_start_up_objects_out_of_garbage_collection(make_app):
    """The objects the app factory made live as long as the process: frozen, the collector
    does not walk them again on every full collection (portal/__init__.py). Test apps, many
    to a process, are left to the collector."""
    import gc

    gc.unfreeze()
    make_app()
    assert gc.get_freeze_count() == 0
    try:
        make_app(TESTING=False)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_connections_speak_utc_whatever_the_servers_default(database_url, tmp_path):
    """portal/database.py: a server (or a URL) set to another zone still gives times in UTC
    (tzinfo datetime.timezone.utc, psycopg's fast path; the API writes them with "Z")."""
    from datetime import UTC

    from db_helpers import app_config_for
    from sqlalchemy.engine import make_url

    berlin = make_url(database_url).update_query_dict({"options": "-c TimeZone=Europe/Berlin"})
    app = create_app(app_config_for(berlin.render_as_string(hide_password=False), tmp_path))
    with app.app_context():
        try:
            assert db.session.scalar(text("SHOW TimeZone")) == "UTC"
            now = db.session.scalar(text("SELECT now()"))
            assert now.tzinfo is UTC  # datetime.timezone.utc
        finally:
            db.session.remove()
            db.engine.dispose()
