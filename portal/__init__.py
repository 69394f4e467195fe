"""Portal: an account portal (pages + JSON API) built with Flask."""

import gc
import os

from flask import Flask, request
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import load_config
from portal.extensions import csrf, db, jwt, limiter, login_manager, migrate

__version__ = "0.1.0"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error handlers, CLI."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    from portal.session_cookie import SessionCookie

    app.session_interface = SessionCookie()
    app.config.update(load_config(app.instance_path, test_config))
    if hops := app.config["PROXY_FIX_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    from portal.health import LivenessShortcut
    from portal.outbox import CloseEveryResponse

    if app.config["MAIL_DELIVERY"] == "inline":
        app.wsgi_app = CloseEveryResponse(app.wsgi_app)
    app.wsgi_app = LivenessShortcut(app.wsgi_app, __version__)

    from portal import database, guards, logs

    logs.init_app(app)
    guards.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    jwt.init_app(app)
    limiter.init_app(app)
    _init_login(app)
    _enable_sqlite_foreign_keys(app)
    database.init_app(app)  # PostgreSQL restarts: fresh connections, 503 meanwhile

    from portal import errors, health, templating, wellknown
    from portal.activity import bp as activity_bp
    from portal.admin import bp as admin_bp
    from portal.api import bp as api_bp
    from portal.auth import bp as auth_bp
    from portal.flows import activity
    from portal.profile import bp as profile_bp
    from portal.sessions import bp as sessions_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(wellknown.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(profile_bp)
    app.register_blueprint(sessions_bp)
    app.register_blueprint(activity_bp)
    app.register_blueprint(admin_bp)
    csrf.exempt(api_bp)  # token-authenticated, never cookie-authenticated
    app.register_blueprint(api_bp)
    errors.init_app(app)
    # How security events read, in every template: {{ event|describe }}, {{ kind|label }}.
    app.add_template_filter(activity.describe, "describe")
    app.add_template_filter(activity.label, "label")
    app.add_template_global(templating.when, "format_when")  # _macros/lists.html: when()
    app.add_template_global(templating.row_url)
    app.add_template_global(templating.fixed_url)
    app.add_template_global(templating.account_badges)
    app.add_template_global(templating.account_rows)
    app.add_template_global(templating.session_rows)

    from portal import metrics, tracing

    metrics.init_app(app)  # GET /metrics, request counts and latency
    tracing.init_app(app)  # only when OTEL_EXPORTER_OTLP_ENDPOINT is set

    from portal.cli import mail_cli, maintenance_cli, users_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(maintenance_cli)

    @app.context_processor
    def inject_version():
        return {"portal_version": __version__}

    if not app.testing:
        _settle_start_up_objects()
    return app


def _settle_start_up_objects() -> None:
    """What building the app made (modules, models, routes: some 150,000 objects) lives as
    long as the process. Frozen, the cycle collector no longer walks it on each of its full
    collections (measured: 3 % of an API request's time), and in workers forked by gunicorn
    --preload it stays in the pages they share instead of being copied on the collector's
    writes (https://docs.python.org/3/library/gc.html#gc.freeze). Tests build many apps in
    one process and leave theirs to the collector."""
    gc.collect()
    gc.freeze()


def _init_login(app: Flask) -> None:
    from flask_login import current_user  # noqa: F401 - imported for templates' sake

    from portal.flows.sessions import ended_message, load_active_session, touch
    from portal.origin import Origin

    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    # Sessions are rows in `sessions`; IP changes (mobile networks) must not sign people out.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(session_id: str):
        """The cookie holds a session id: an ended session signs the browser out at once."""
        # The profile pages show the second factors (and ask for a code when one is on).
        loaded = load_active_session(session_id, mfa_summary=request.blueprint == "profile")
        if loaded is None:
            _forget_ended_session(session_id)
            return None
        session, user = loaded
        touch(session, Origin.of_request())
        return user

    def _forget_ended_session(session_id: str) -> None:
        """Drop the dead id from the cookie and tell this browser, once, why it is out."""
        from flask import flash
        from flask import session as cookie

        for key in ("_user_id", "_fresh", "_id"):
            cookie.pop(key, None)
        flash(ended_message(session_id), "info")


def _enable_sqlite_foreign_keys(app: Flask) -> None:
    """SQLite ignores ON DELETE CASCADE unless asked; PostgreSQL always honours it."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _fk_on(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
