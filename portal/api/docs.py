"""The OpenAPI document and the browsable docs page (Swagger UI, served from static/)."""

from flask import render_template, url_for

from portal.api import bp
from portal.api.spec import openapi_document
from portal.extensions import limiter


@bp.get("/openapi.json")
@limiter.exempt
def openapi():
    """OpenAPI 3.1, generated from the route registry and the pydantic schemas."""
    from portal import __version__

    return openapi_document(bp.url_prefix, __version__)


@bp.get("/docs")
@limiter.exempt
def docs():
    """Swagger UI: no CDN, and no inline script (the CSP allows scripts from 'self' only)."""
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))
