"""Account flows: plain functions named after what a person does, shared by the HTML pages and
the JSON API. A flow owns the rules and the one commit; it never looks at `request` (callers
pass an `Origin`). Failures raise FlowError with a stable `code` that both sides translate."""


class FlowError(Exception):
    """A request the rules refuse. `code` is stable (API `code`), `errors` is per field."""

    def __init__(self, code: str, message: str, *, field: str | None = None, errors=None, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
        self.errors: dict[str, list[str]] = dict(errors or {})
        if field:
            self.errors.setdefault(field, []).append(message)


def invalid(errors: dict[str, list[str]]) -> FlowError:
    first = next(iter(errors.values()))[0]
    return FlowError("validation_error", first, errors=errors)
