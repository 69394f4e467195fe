"""Every stable error `code` the API can answer with: its HTTP status and what it means.

The one table: the API's FlowError-to-status mapping (api/errors.py), the OpenAPI document's
answers and the Problem schema's list of codes are made from it, and
tests/api/test_problem_codes.py fails when the sources send a code missing here.
"""

CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request is malformed."),
    "invalid_json": (400, "The body is not valid JSON."),
    "csrf_failed": (400, "A browser form's CSRF token is missing or invalid."),
    "invalid_code": (400, "The code is wrong or unknown."),
    "code_expired": (400, "The code has expired: ask for a new one."),
    "code_used_up": (400, "Too many wrong tries for this code: ask for a new one."),
    "invalid_reset_token": (400, "The reset token is wrong, used or expired."),
    "invalid_credentials": (401, "Wrong email, username or password."),
    "invalid_token": (401, "The token is missing or not valid."),
    "token_expired": (401, "The token has expired: refresh it."),
    "session_ended": (401, "The token's session has ended: sign in again."),
    "email_not_verified": (403, "Confirm the email address first (a fresh code was sent)."),
    "account_disabled": (403, "An admin has disabled the account."),
    "forbidden": (403, "Not allowed."),
    "mfa_required": (
        403,
        "The account uses two-step sign-in: finish with POST /auth/mfa (`mfa_token`, `methods`).",
    ),
    "not_found": (404, "Not found."),
    "method_not_allowed": (405, "The method is not allowed here (see `Allow`)."),
    "username_taken": (409, "The username is taken."),
    "totp_already_enabled": (409, "An authenticator app is already on."),
    "totp_not_enabled": (409, "No authenticator app is on."),
    "request_too_large": (413, "The body is larger than the server accepts."),
    "unsupported_media_type": (415, "The body is not `application/json`."),
    "validation_error": (422, "The body does not validate (`errors` per field)."),
    "rate_limited": (
        429,
        "Too many requests from this address, or too many wrong passwords or codes for "
        "this account (see `Retry-After`).",
    ),
    "internal_error": (500, "Something went wrong on our side."),
    "unavailable": (503, "The database is away for a moment (see `Retry-After`)."),
}

# Any other HTTP error (one werkzeug raises with no code of its own) answers with this code.
OTHER = "error"

STATUS: dict[str, int] = {code: status for code, (status, _) in CODES.items()}


def listing(codes=CODES) -> str:
    """`code1`, `code2`, ... for prose."""
    return ", ".join(f"`{code}`" for code in codes)


def described(status: int) -> str:
    """What the codes answered with `status` mean, one sentence each."""
    return " ".join(f"`{code}`: {text}" for code, (s, text) in CODES.items() if s == status)
