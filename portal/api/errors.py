"""FlowError -> problem+json: one table from a flow's stable code to an HTTP status."""

from portal.extensions import db
from portal.flows import FlowError
from portal.problems import problem

STATUS = {
    "validation_error": 422,
    "invalid_credentials": 401,
    "invalid_token": 401,
    "token_expired": 401,
    "session_ended": 401,
    "email_not_verified": 403,
    "account_disabled": 403,
    "forbidden": 403,
    "not_found": 404,
    "invalid_code": 400,
    "code_expired": 400,
    "code_used_up": 400,
    "invalid_reset_token": 400,
    "username_taken": 409,
    "rate_limited": 429,
    "mfa_required": 403,
    "totp_already_enabled": 409,
    "totp_not_enabled": 409,
}
# Problem types with members of their own (DESIGN.md section 8).
MEMBERS = {"mfa_required": ("mfa_token", "methods")}


def flow_error(error: FlowError):
    db.session.rollback()  # nothing half-done outlives the request (flows commit what counts)
    status = STATUS.get(error.code, 400)
    headers = {"WWW-Authenticate": 'Bearer realm="portal"'} if status == 401 else {}
    if status == 429:
        headers["Retry-After"] = str(int(error.extra.get("retry_after", 60)))
    errors = error.errors if error.code == "validation_error" else None
    members = {name: error.extra[name] for name in MEMBERS.get(error.code, ())}
    return problem(
        status, error.code, error.message, errors=errors, headers=headers, members=members
    )


def init_blueprint(bp) -> None:
    bp.register_error_handler(FlowError, flow_error)
