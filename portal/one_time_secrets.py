"""One-time secrets: 6-digit codes and link tokens (email codes and links, second-step and
device tokens, recovery codes), kept only as keyed hashes."""

import hashlib
import hmac
import secrets

from flask import current_app


def new_code() -> str:
    """A 6-digit code from the OS's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def new_token() -> str:
    """A URL-safe token carrying 256 random bits."""
    return secrets.token_urlsafe(32)


def keyed_hash(purpose: str, secret: str) -> str:
    """HMAC-SHA256 under a key derived from SECRET_KEY: a leaked table can't be brute-forced
    offline (a 6-digit code has only a million values), and a hash for one purpose is useless
    for another."""
    key = hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"portal-one-time-codes", hashlib.sha256
    ).digest()
    return hmac.new(key, f"{purpose}:{secret}".encode(), hashlib.sha256).hexdigest()


def matches(stored_hash: str, purpose: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, keyed_hash(purpose, secret))
