"""Links in emails, on PORTAL_BASE_URL (never the request's Host header)."""

from flask import current_app


def absolute_url(endpoint: str, **values) -> str:
    """Works in the mail worker too, where there is no request to build URLs from."""
    path = current_app.url_map.bind("portal.invalid").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"] + path
