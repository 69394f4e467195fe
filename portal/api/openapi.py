"""The OpenAPI 3.1 document, generated from the route registry and the pydantic schemas that
validate requests, so the description cannot drift from what the API does."""

import re

from pydantic.json_schema import models_json_schema

from portal.api import schemas
from portal.api.spec import REGISTRY
from portal.problem_codes import described


def _problem_text(status: int) -> str:
    """What a problem answer with `status` means, from the one table of codes."""
    return described(status) or "Error"


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def repl(match):
        name = match.group(1)
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
        )
        return "{" + name + "}"

    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", repl, rule), params


def _problem_response(status: int) -> dict:
    return {
        "description": _problem_text(status),
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def openapi_document(prefix: str, version: str) -> dict:
    """The OpenAPI 3.1 document, built from REGISTRY and the pydantic schemas."""
    models = {schemas.Problem}
    for op in REGISTRY:
        models.update(m for m in (op.body, op.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    components = defs.get("$defs", {})

    paths: dict[str, dict] = {}
    for op in REGISTRY:
        path, params = _path(op.rule)
        item = paths.setdefault(prefix + path, {})
        for method in op.methods:
            responses: dict[str, dict] = {}
            if op.response is not None:
                responses[str(op.status)] = {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}
                        }
                    },
                }
            else:
                responses[str(op.status)] = {"description": "Done (no content)."}
            statuses = set(op.errors)
            if op.body is not None:
                statuses |= {400, 413, 415, 422}
            if op.auth:
                statuses.add(401)
            if op.limited:
                statuses.add(429)
            for status in sorted(statuses):
                responses[str(status)] = _problem_response(status)
                if status == 429:
                    responses["429"]["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait.",
                            "schema": {"type": "integer"},
                        }
                    }
            entry = {
                "operationId": op.endpoint if len(op.methods) == 1 else f"{op.endpoint}_{method}",
                "summary": op.summary,
                "tags": [op.tag],
                "responses": responses,
            }
            if op.description:
                entry["description"] = op.description
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                        }
                    },
                }
            entry["security"] = [{"bearerAuth": []}] if op.auth else []
            item[method.lower()] = entry

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portal API",
            "version": version,
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The `access_token` from /auth/login, /auth/verify or "
                    "/auth/refresh.",
                }
            },
        },
        "tags": [
            {"name": "auth", "description": "Register, verify, sign in, tokens, passwords."},
            {"name": "users", "description": "The signed-in account."},
            {"name": "sessions", "description": "Signed-in devices (shared with the web)."},
            {"name": "admin", "description": "Admins only."},
        ],
    }


DESCRIPTION = """\
The Portal account lifecycle for mobile and other clients.

**Sign up**: `POST /auth/register` starts a pending sign-up and emails its own 6-digit code
(valid 15 minutes, 5 tries); `POST /auth/verify` spends it, creates the account and answers
with tokens. When several sign-ups wait for one address, send the `password` chosen at sign-up
with the code. `POST /auth/verify/resend` sends a fresh code (at most one a minute).
`POST /auth/login` takes an email *or* username; the right password of a sign-up not confirmed
yet gets 403 `email_not_verified` and a fresh code by email.

**Guessing**: wrong passwords and codes spend one budget per account: 10 per 15 minutes, then
429 `rate_limited` with `Retry-After`. Keep the `device_token` a sign-in answers with and send
it back with the next `POST /auth/login`: that device keeps its own budget. Changing the email
needs `password`, changing the password `current_password`, deleting the account `password`;
5 wrong in a row end the session (401 `session_ended`).

**Tokens**: send `Authorization: Bearer <access_token>`. The access token lives 30 minutes
(`expires_in`), the refresh token 7 days. `POST /auth/refresh` rotates: it answers with a new
pair and the old refresh token stops working. If a response was lost, the old refresh token
still works for 10 seconds (it answers with the current pair); after that, presenting it ends
the session (401 `session_ended`) and emails the owner, because it may have been copied.
Every request checks that the token's session is still active: signing out, ending the session
on another device or on the web, resetting the password or an admin ends it at once (401
`session_ended`). On 401, refresh once; if that fails, sign in again.

**Errors** are `application/problem+json`: `{type, title, status, detail, code}` and, for 422,
`errors` per field. `code` is stable: branch on it, show `detail` to people.
"""
