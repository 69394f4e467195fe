"""Sign-in throttling per account, on top of the per-IP limits: a botnet trying one account's
password from many addresses is slowed down too (OWASP: credential stuffing).

The key is the login *as typed* (normalised and hashed), never whether it exists: an unknown
login is throttled exactly like a known one, so a 429 tells nothing about accounts. Only
failed attempts count, so the owner signing in now and then never hits it."""

import hashlib

from flask import current_app, request

from portal.extensions import limiter


def _login_key() -> str:
    value = request.form.get("login")
    if value is None:
        data = request.get_json(silent=True)
        value = data.get("email") if isinstance(data, dict) else None
    value = value.strip().lower()[:254] if isinstance(value, str) else ""
    # Hashed: the counters' store (Redis) never holds addresses.
    return "sign-in:" + hashlib.sha256(value.encode()).hexdigest()


def _failed(response) -> bool:
    # Pages answer a refused sign-in with 422, the API with 401 (or 422 for bad input).
    return response.status_code in (401, 422)


sign_in_per_account = limiter.shared_limit(
    lambda: current_app.config["SIGN_IN_ACCOUNT_RATE_LIMIT"],
    scope="sign-in-per-account",
    key_func=_login_key,
    methods=["POST"],
    deduct_when=_failed,
)
