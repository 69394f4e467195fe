"""HTMX helpers: answer a fragment to HTMX, the full page to everyone else."""

from flask import make_response, render_template, request


def is_htmx() -> bool:
    """An HTMX request that wants a fragment (history restores want the full page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_page_or_partial(page: str, partial: str, status: int = 200, **context):
    response = make_response(render_template(partial if is_htmx() else page, **context), status)
    response.vary.add("HX-Request")
    return response
