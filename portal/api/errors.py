"""FlowError -> problem+json, with the status from the one table of codes (problem_codes.py)."""

from portal.extensions import db
from portal.flows import FlowError
from portal.problem_codes import STATUS
from portal.problems import problem

# Problem types with members of their own (schemas.Problem documents them).
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
