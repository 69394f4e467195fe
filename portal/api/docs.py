"""The OpenAPI document and the browsable docs page (Swagger UI, served from static/)."""

import json

from flask import current_app, render_template, url_for

from portal.api import bp
from portal.api.openapi import openapi_document
from portal.extensions import limiter


@bp.get("/openapi.json")
@limiter.exempt
def openapi():
    """OpenAPI 3.1, generated from the route registry and the pydantic schemas."""
    from portal import __version__

    # Not jsonify: it sorts keys, and the document reads best in the order of the lifecycle.
    document = json.dumps(openapi_document(bp.url_prefix, __version__), ensure_ascii=False)
    return current_app.response_class(document, mimetype="application/json")


@bp.get("/docs")
@limiter.exempt
def docs():
    """Swagger UI: no CDN, and no inline script (the CSP allows scripts from 'self' only)."""
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))
