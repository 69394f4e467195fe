"""Configuration: defaults in one place, then the environment (README "Configuration")."""

import hashlib
import hmac
import os
import secrets
from datetime import timedelta

# Values that must never be used as a production SECRET_KEY.
WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "development", "password", "portal"}
# .env.example's sample, and words that only a placeholder someone forgot to replace contains.
SAMPLE_SECRET = "change-me-to-48-random-characters"  # noqa: S105 - known, to refuse it
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "example", "placeholder")
MIN_SECRET_LENGTH = 32
# Storages every worker shares; memory:// counts per process (RATELIMIT_STORAGE_URI).
PER_PROCESS_STORAGE = ("memory",)
# Redis that stops answering must not hold requests: give up quickly, then count in memory.
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")
REDIS_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}
POSTGRES_CONNECT_TIMEOUT = 3  # seconds


class ConfigError(RuntimeError):
    """The environment asks for something the portal refuses to run with."""


def _defaults(instance_path: str) -> dict:
    return {
        "PORTAL_ENV": "development",
        "DATABASE_URL": None,
        "SECRET_KEY": None,
        "JWT_SECRET_KEY": None,
        # Its host is the passkeys' RP ID, and browsers refuse passkeys on an IP address.
        "PORTAL_BASE_URL": "http://localhost:5000",
        "MAIL_BACKEND": None,
        # "worker": `flask --app portal mail worker` delivers the outbox (production);
        # "inline": the app process delivers right after each response (development, tests).
        "MAIL_DELIVERY": None,
        # `flask --app portal maintenance prune` keeps security events this long.
        "EVENT_RETENTION_DAYS": 365,
        "MAIL_FROM": "Portal <noreply@localhost>",
        "MAIL_FILE_DIR": os.path.join(instance_path, "mail"),
        "RESEND_API_KEY": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        # How many reverse proxies in front of the app set X-Forwarded-For (0: trust none).
        "PROXY_FIX_HOPS": 0,
        # Second factor and passkeys (README "Two-step sign-in"). MFA_KEYS: Fernet keys, newest
        # first, comma-separated (portal/crypto.py); unset, one is derived from SECRET_KEY.
        "MFA_KEYS": None,
        "ADMIN_REQUIRE_MFA": False,
        "WEBAUTHN_RP_ID": None,  # the host of PORTAL_BASE_URL when unset
        "WEBAUTHN_RP_NAME": "Portal",
        # Extra origins allowed to use the passkeys, comma-separated: native apps
        # ("android:apk-key-hash:..."), sibling sites under the RP ID.
        "WEBAUTHN_ORIGINS": "",
        # Native apps that share the passkeys, served in /.well-known: Android as
        # "package.name:SHA256:FINGER:PRINT", iOS as "TEAMID.bundle.id"; comma-separated.
        "WEBAUTHN_ANDROID_APPS": "",
        "WEBAUTHN_IOS_APPS": "",
        # Observability (README "Operations"). GET /metrics answers 404 until a token is set.
        "METRICS_TOKEN": None,
        # `flask mail worker` serves its own /metrics here ("9100" or "host:9100").
        "METRICS_WORKER_PORT": None,
        # Traces go to this OTLP collector; unset, OpenTelemetry is not even imported.
        "OTEL_EXPORTER_OTLP_ENDPOINT": None,
        "TRACING_EXPORTER": None,  # tests only: a span exporter object instead of OTLP
        # Not environment settings: fixed rules of the portal, overridable in tests only.
        "ARGON2_TIME_COST": 2,
        "ARGON2_MEMORY_COST": 19 * 1024,  # KiB: OWASP minimum for argon2id
        "ARGON2_PARALLELISM": 1,
        # Sessions end after this long without use, and at the latest `..._LIFETIME` after
        # sign-in (web: any request counts as use; API: only a refresh does).
        "WEB_SESSION_IDLE": timedelta(days=3),
        "WEB_SESSION_LIFETIME": timedelta(days=14),
        "API_SESSION_IDLE": timedelta(days=7),  # also the longest a refresh token lives
        "API_SESSION_LIFETIME": timedelta(days=30),
        # A sign-in past this many active sessions ends the least recently used other one.
        "MAX_ACTIVE_SESSIONS": 100,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=30),
        "REFRESH_REUSE_GRACE": timedelta(seconds=10),
        # JSON API: HS256 only, tokens in the Authorization header only (never cookies).
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ENCODE_NBF": False,
        "JWT_COOKIE_CSRF_PROTECT": False,  # no JWT cookies, so no double-submit csrf claim
        # Per client IP, on the anonymous API endpoints that guess or send things.
        "API_AUTH_RATE_LIMIT": "10 per minute",
        "API_REFRESH_RATE_LIMIT": "30 per minute",
        # Per client IP, on the sign-up and sign-in pages (their POSTs) that guess or send things.
        "WEB_SIGNUP_RATE_LIMIT": "10 per minute; 50 per hour",
        "WEB_VERIFY_RATE_LIMIT": "20 per minute",
        "WEB_RESEND_CODE_RATE_LIMIT": "5 per minute; 30 per hour",
        "WEB_SIGNIN_RATE_LIMIT": "10 per minute; 100 per hour",
        "WEB_SECOND_STEP_RATE_LIMIT": "10 per minute; 100 per hour",
        "WEB_PASSKEY_OPTIONS_RATE_LIMIT": "30 per minute; 300 per hour",
        "WEB_PASSKEY_SIGNIN_RATE_LIMIT": "10 per minute; 100 per hour",
        "WEB_FORGOT_PASSWORD_RATE_LIMIT": "5 per minute; 30 per hour",
        "WEB_RESET_PASSWORD_RATE_LIMIT": "10 per minute",
        "WEB_NOT_ME_RATE_LIMIT": "10 per minute",
        "RATELIMIT_ENABLED": True,
        # A rate-limit storage lost at run time: count per process (warning logged) rather
        # than answer 500; an error that still escapes is logged and the request goes on.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        # API tokens: `iss` is PORTAL_BASE_URL, `aud` this (portal/api/bearer.py checks both).
        "API_TOKEN_AUDIENCE": "portal-api",
        "MAX_CONTENT_LENGTH": 64 * 1024,
    }


ENV_NAMES = (
    "PORTAL_ENV",
    "DATABASE_URL",
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "PORTAL_BASE_URL",
    "MAIL_BACKEND",
    "MAIL_DELIVERY",
    "EVENT_RETENTION_DAYS",
    "MAIL_FROM",
    "MAIL_FILE_DIR",
    "RESEND_API_KEY",
    "RATELIMIT_STORAGE_URI",
    "PROXY_FIX_HOPS",
    "MFA_KEYS",
    "ADMIN_REQUIRE_MFA",
    "WEBAUTHN_RP_ID",
    "WEBAUTHN_RP_NAME",
    "WEBAUTHN_ORIGINS",
    "WEBAUTHN_ANDROID_APPS",
    "WEBAUTHN_IOS_APPS",
    "METRICS_TOKEN",
    "METRICS_WORKER_PORT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def is_weak_secret(value: str | None) -> bool:
    if not value or len(value) < MIN_SECRET_LENGTH:
        return True
    lowered = value.lower()
    return (
        lowered in WEAK_SECRETS
        or value == SAMPLE_SECRET
        or any(word in lowered for word in PLACEHOLDER_WORDS)
        or len(set(value)) < 10  # "xxxx…", "abab…": long but nothing random in it
    )


def _scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Defaults, then the environment, then `overrides` (tests); returns the final mapping."""
    config = _defaults(instance_path)
    for name in ENV_NAMES:
        if os.environ.get(name):
            config[name] = os.environ[name]
    config.update(overrides or {})

    env = config["PORTAL_ENV"]
    if env not in ("development", "production"):
        raise ConfigError(f"PORTAL_ENV must be 'development' or 'production', not {env!r}")
    production = env == "production"

    if production and is_weak_secret(config["SECRET_KEY"]):
        raise ConfigError(
            f"PORTAL_ENV=production needs a SECRET_KEY of at least {MIN_SECRET_LENGTH} random "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if not config["SECRET_KEY"]:
        # Development only: a fresh key per start signs everyone out on restart, which is fine.
        config["SECRET_KEY"] = secrets.token_urlsafe(48)
    if not config["JWT_SECRET_KEY"]:
        config["JWT_SECRET_KEY"] = hmac.new(
            config["SECRET_KEY"].encode(), b"portal-jwt-signing-key", hashlib.sha256
        ).hexdigest()
    if len(config["JWT_SECRET_KEY"].encode()) < 32:
        raise ConfigError("JWT_SECRET_KEY must be at least 32 bytes")

    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "portal.sqlite3")
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    # No pool_pre_ping (a round trip per request): portal/database.py drops connections the
    # server closed, for free, and errors.py answers 503 while it is away. A server that does
    # not answer at all holds a request at most POSTGRES_CONNECT_TIMEOUT seconds.
    postgres = config["DATABASE_URL"].startswith("postgresql")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **({"connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT}} if postgres else {}),
        **config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        # Error messages and logs show the SQL but never the values (emails, hashes, tokens).
        "hide_parameters": True,
    }

    storage = config["RATELIMIT_STORAGE_URI"] or "memory://"
    config["RATELIMIT_STORAGE_URI"] = storage
    if production and config["RATELIMIT_ENABLED"] and _scheme(storage) in PER_PROCESS_STORAGE:
        raise ConfigError(
            f"PORTAL_ENV=production needs RATELIMIT_STORAGE_URI set to a store every worker "
            f"shares, such as redis://host:6379/0: with {storage} each worker counts on its "
            "own, so every limit is multiplied by the number of workers"
        )
    if _scheme(storage) in REDIS_SCHEMES:
        config["RATELIMIT_STORAGE_OPTIONS"] = {
            **REDIS_TIMEOUTS,
            **config.get("RATELIMIT_STORAGE_OPTIONS", {}),
        }

    if not config["MAIL_BACKEND"]:
        config["MAIL_BACKEND"] = "resend" if production else "console"
    if config["MAIL_BACKEND"] not in ("resend", "console", "file"):
        raise ConfigError("MAIL_BACKEND must be one of resend, console, file")
    if not config["MAIL_DELIVERY"]:
        config["MAIL_DELIVERY"] = "worker" if production else "inline"
    if config["MAIL_DELIVERY"] not in ("worker", "inline"):
        raise ConfigError("MAIL_DELIVERY must be worker or inline")
    if config["MAIL_BACKEND"] == "resend" and not config["RESEND_API_KEY"]:
        raise ConfigError("MAIL_BACKEND=resend needs RESEND_API_KEY")

    if production and config["METRICS_TOKEN"] and len(config["METRICS_TOKEN"]) < 32:
        raise ConfigError("METRICS_TOKEN must be at least 32 random characters")
    config["PORTAL_BASE_URL"] = config["PORTAL_BASE_URL"].rstrip("/")
    _check_second_factor_settings(config)
    # The cookie may outlive the session row's expiry: the row decides (flows/sessions.py).
    config["PERMANENT_SESSION_LIFETIME"] = config["WEB_SESSION_LIFETIME"]
    # The cookie is written when its contents change (sign-in, a message to show), not on
    # every page: it lives as long as a web session can (WEB_SESSION_LIFETIME from
    # sign-in), and the row's idle time, not the cookie's, signs an unused browser out.
    # Re-signing and re-sending it on every request cost a page a tenth of its time.
    config["SESSION_REFRESH_EACH_REQUEST"] = False
    config["JWT_REFRESH_TOKEN_EXPIRES"] = config["API_SESSION_IDLE"]
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = production
    config["SESSION_COOKIE_NAME"] = "__Host-portal" if production else "portal"
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SECURE"] = production
    try:
        config["PROXY_FIX_HOPS"] = int(config["PROXY_FIX_HOPS"])
    except ValueError:
        raise ConfigError("PROXY_FIX_HOPS must be a whole number") from None
    try:
        config["EVENT_RETENTION_DAYS"] = int(config["EVENT_RETENTION_DAYS"])
    except ValueError:
        raise ConfigError("EVENT_RETENTION_DAYS must be a whole number of days") from None
    if config["EVENT_RETENTION_DAYS"] < 1:
        raise ConfigError("EVENT_RETENTION_DAYS must be at least 1")
    config["RATELIMIT_HEADERS_ENABLED"] = True
    # CSRF tokens live as long as the browser session, so a form left open still works.
    config["WTF_CSRF_TIME_LIMIT"] = None
    config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
    return config


TRUE_WORDS = ("1", "true", "yes", "on")


def _check_second_factor_settings(config: dict) -> None:
    """MFA_KEYS must be Fernet keys; the RP ID must be the base URL's host or a parent domain
    of it (browsers refuse anything else)."""
    from urllib.parse import urlsplit

    from cryptography.fernet import Fernet

    require = config["ADMIN_REQUIRE_MFA"]
    if isinstance(require, str):
        config["ADMIN_REQUIRE_MFA"] = require.strip().lower() in TRUE_WORDS
    for key in (config["MFA_KEYS"] or "").split(","):
        if not key.strip():
            continue
        try:
            Fernet(key.strip().encode())
        except ValueError:
            raise ConfigError(
                "MFA_KEYS must be Fernet keys separated by commas, newest first "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
    host = (urlsplit(config["PORTAL_BASE_URL"]).hostname or "").lower()
    rp_id = (config["WEBAUTHN_RP_ID"] or "").strip().lower()
    if rp_id and host != rp_id and not host.endswith("." + rp_id):
        raise ConfigError(
            f"WEBAUTHN_RP_ID must be the host of PORTAL_BASE_URL ({host}) or a parent "
            f"domain of it, not {rp_id}"
        )
