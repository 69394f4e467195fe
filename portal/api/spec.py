"""A small route registry: each API view declares its body schema, answers and auth once, and
both request validation (here) and the OpenAPI 3.1 document (openapi.py) come from that
declaration.

Why not spectree: its validation failures answer in its own shape, which would need overriding
to be problem+json, and its Flask plugin decides the document layout; a registry this size
keeps both in our hands with pydantic doing all the schema work.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from portal.api.bearer import require_access_token
from portal.extensions import limiter
from portal.problems import problem


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
            answer = fn(*args, **kwargs)
            if isinstance(answer, BaseModel):
                # Serialised by pydantic straight to JSON text, not to a dict that Flask then
                # encodes again (the account and the sessions list, on every call).
                return current_app.response_class(
                    answer.model_dump_json(), status=status, mimetype="application/json"
                )
            return answer

        wrapped = view
        if auth:
            wrapped = require_access_token(wrapped)
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
