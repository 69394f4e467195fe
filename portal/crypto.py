"""Secrets at rest (queued emails that carry codes or links, TOTP secrets): encrypted with a
list of keys so they can rotate (README "Two-step sign-in").

`MFA_KEYS` holds Fernet keys, newest first, separated by commas: the newest encrypts, every
one decrypts, so a new key goes first and an old one leaves once `rotate` has re-encrypted
what it protected. Unset, one key is derived from SECRET_KEY."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

__all__ = ["InvalidToken", "decrypt", "encrypt", "rotate"]


def _keys() -> list[bytes]:
    configured = current_app.config.get("MFA_KEYS")
    if configured:
        return [key.strip().encode() for key in configured.split(",") if key.strip()]
    derived = hmac.new(
        current_app.config["SECRET_KEY"].encode(), b"portal-encryption-key", hashlib.sha256
    ).digest()
    return [base64.urlsafe_b64encode(derived)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text; raises InvalidToken when no key opens it."""
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """The same secret under the newest key."""
    return _fernet().rotate(token.encode()).decode()
