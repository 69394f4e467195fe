"""Work done once the answer has gone out, so that what the answer costs never depends on
what the work finds (forgot-password and sign-up do the same work for every address).

Today the job runs in the app process right after the response is sent; the email outbox
and its worker (DESIGN.md section 6) will take these over."""

import logging

from flask import after_this_request, current_app, has_request_context

from portal.extensions import db

log = logging.getLogger(__name__)


def after_response(job, *args, **kwargs) -> None:
    """Run `job(*args, **kwargs)` in a fresh app context after this request's response."""
    if not has_request_context():
        _run(job, args, kwargs)
        return
    app = current_app._get_current_object()

    @after_this_request
    def _schedule(response):
        def run():
            with app.app_context():
                _run(job, args, kwargs)

        response.call_on_close(run)
        return response


def _run(job, args, kwargs) -> None:
    try:
        job(*args, **kwargs)
    except Exception:  # the answer is gone; log, and leave nothing half-written
        log.exception("job_failed", extra={"job": getattr(job, "__name__", "job")})
        db.session.rollback()


def absolute_url(endpoint: str, **values) -> str:
    """A link for an email, on PORTAL_BASE_URL (never the request's Host header); works in a
    job too, where there is no request to build URLs from."""
    path = current_app.url_map.bind("portal.invalid").build(endpoint, values)
    return current_app.config["PORTAL_BASE_URL"] + path
