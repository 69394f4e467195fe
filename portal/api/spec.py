"""A small route registry: each API view declares its body schema, answers and auth once, and
both request validation and the OpenAPI 3.1 document come from that declaration.

(spectree was tried first; a registry this size keeps error answers in our problem+json shape
without fighting a library's own validation responses.)
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import current_app, request
from flask_jwt_extended import jwt_required
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from portal.api import schemas
from portal.extensions import limiter
from portal.problems import problem

PROBLEM_TEXT = {
    400: "Malformed JSON (`invalid_json`), or a wrong or expired code / reset token.",
    401: "Missing, invalid or expired token, or an ended session (`invalid_token`, "
    "`token_expired`, `session_ended`); wrong credentials (`invalid_credentials`).",
    403: "Not allowed (`forbidden`, `email_not_verified`, `account_disabled`).",
    404: "Not found (`not_found`).",
    409: "Conflict (`username_taken`).",
    413: "The body is larger than the server accepts.",
    415: "The body is not `application/json`.",
    422: "The body does not validate (`validation_error`, with `errors` per field).",
    429: "Too many requests from this address (`rate_limited`); see `Retry-After`.",
}


class BodyError(Exception):
    def __init__(self, response):
        self.response = response


@dataclass
class Operation:
    methods: tuple[str, ...]
    rule: str
    endpoint: str
    summary: str
    description: str
    tag: str
    status: int
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    auth: bool
    errors: tuple[int, ...]
    limited: bool
    extra: dict = field(default_factory=dict)


REGISTRY: list[Operation] = []


def operation(
    bp,
    methods: str | tuple[str, ...],
    rule: str,
    *,
    tag: str,
    status: int = 200,
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    auth: bool = False,
    errors: tuple[int, ...] = (),
    limit: str | None = None,
):
    """Register a view on `bp`: JWT check (when `auth`), then the JSON body parsed and
    validated into `body` (passed as the keyword argument `data`), then the view."""
    methods = (methods,) if isinstance(methods, str) else methods

    def decorator(fn: Callable):
        doc = (fn.__doc__ or "").strip()
        summary, _, description = doc.partition("\n")

        @wraps(fn)
        def view(*args, **kwargs):
            if body is not None:
                try:
                    kwargs["data"] = parse_body(body)
                except BodyError as error:
                    return error.response
            return fn(*args, **kwargs)

        wrapped = view
        if auth:
            wrapped = jwt_required()(wrapped)
        if limit:
            wrapped = limiter.limit(lambda: current_app.config[limit])(wrapped)
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=wrapped, methods=list(methods))
        REGISTRY.append(
            Operation(
                methods=methods,
                rule=rule,
                endpoint=fn.__name__,
                summary=summary.strip(),
                description=description.strip(),
                tag=tag,
                status=status,
                body=body,
                response=response,
                auth=auth,
                errors=errors,
                limited=bool(limit),
            )
        )
        return wrapped

    return decorator


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def parse_body(model: type[BaseModel]) -> BaseModel:
    """415 unless JSON, 400 `invalid_json` unless it parses, 422 `validation_error` per field."""
    if not _is_json(request.mimetype):
        raise BodyError(
            problem(415, "unsupported_media_type", "Send the body as application/json.")
        )
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413 from werkzeug
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, absurd nesting
        raise BodyError(problem(400, "invalid_json", "The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise BodyError(
            problem(
                422,
                "validation_error",
                "The body must be a JSON object.",
                errors={"body": ["Send a JSON object."]},
            )
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, list[str]] = {}
        for item in exc.errors(include_url=False, include_input=False):
            name = ".".join(str(part) for part in item["loc"]) or "body"
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            errors.setdefault(name, []).append(message)
        first = next(iter(errors.values()))[0]
        raise BodyError(problem(422, "validation_error", first, errors=errors)) from None


# The document


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
        "description": PROBLEM_TEXT.get(status, "Error"),
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

**Sign up**: `POST /auth/register` emails a 6-digit code (valid 15 minutes, 5 tries);
`POST /auth/verify` spends it and answers with tokens. `POST /auth/verify/resend` sends a fresh
code (at most one a minute). `POST /auth/login` takes an email *or* username; an unverified
account gets 403 `email_not_verified` and a fresh code by email.

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
