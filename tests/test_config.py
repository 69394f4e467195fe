"""Configuration from the environment (DESIGN.md section 2)."""

import secrets

import pytest

from portal import create_app
from portal.config import ENV_NAMES, ConfigError, load_config

STRONG_SECRET = secrets.token_urlsafe(48)


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
    assert config["PORTAL_BASE_URL"] == "http://127.0.0.1:5000"
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
        {"PORTAL_ENV": "production", "SECRET_KEY": STRONG_SECRET, "RESEND_API_KEY": "re_x"},
    )

    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_NAME"] == "__Host-portal"
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["MAIL_BACKEND"] == "resend"


def test_production_with_resend_needs_an_api_key(tmp_path):
    with pytest.raises(ConfigError, match="RESEND_API_KEY"):
        load_config(str(tmp_path), {"PORTAL_ENV": "production", "SECRET_KEY": STRONG_SECRET})


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
