"""Traces through OpenTelemetry (Flask and SQLAlchemy instrumentation), exported over OTLP
when OTEL_EXPORTER_OTLP_ENDPOINT is set. Unset, nothing of OpenTelemetry is even imported.

Spans leave the process redacted like the logs: every secret-carrying URL loses its secret
(`portal.logs.SECRET_PATHS`), headers that authenticate are dropped, and SQL spans carry the
statement with its placeholders, never the parameters (the SQLAlchemy instrumentation never
records them; comments with context are off).

The standard OTEL_* variables work as documented by OpenTelemetry (OTEL_SERVICE_NAME,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, ...). Each app has its own tracer provider
(the global one is left alone), which flushes at exit; gunicorn's --preload is fine (the
batch processor restarts its thread in each forked worker).
"""

import os

from flask import Flask

# Never traced: load balancers' and Prometheus's calls, and files (regexes searched in the URL).
EXCLUDED_URLS = "/health,/metrics,/static/"
# Attribute names (lower case) that are dropped whole, whatever their value.
_DROPPED = ("authorization", "cookie", "x-csrftoken")


def init_app(app: Flask):
    """Trace requests and SQL when configured; returns the tracer provider, or None."""
    exporter = app.config.get("TRACING_EXPORTER")
    endpoint = app.config.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if exporter is None and not endpoint:
        return None

    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal import __version__

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads OTEL_EXPORTER_OTLP_* itself; the base endpoint may also come
        # from the app's configuration only.
        traces_url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        exporter = OTLPSpanExporter(endpoint=traces_url or endpoint.rstrip("/") + "/v1/traces")
        processor = BatchSpanProcessor(exporter)
    else:
        processor = SimpleSpanProcessor(exporter)  # tests: spans at once, in order

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or "portal",
            "service.version": __version__,
        }
    )
    provider = TracerProvider(resource=resource, sampler=_requests_only())
    provider.add_span_processor(_redacting(processor))

    # Inside ProxyFix, so that spans see the client's address rather than the proxy's.
    proxy = app.wsgi_app if isinstance(app.wsgi_app, ProxyFix) else None
    if proxy is not None:
        app.wsgi_app = proxy.app
    FlaskInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS, enable_commenter=False
    )
    if proxy is not None:
        proxy.app, app.wsgi_app = app.wsgi_app, proxy
    _trace_sql(app, provider)
    app.extensions["portal_tracing"] = provider
    return provider


def _requests_only():
    """OTEL_TRACES_SAMPLER as configured, except that SQL outside any traced request (health
    checks, email delivered after the response, the worker) starts no trace of its own."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import sampling

    configured = sampling._get_from_env_or_default()

    class RequestsOnly(sampling.Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, *args, **kwargs):
            parent = trace.get_current_span(parent_context).get_span_context()
            if kind == trace.SpanKind.CLIENT and not parent.is_valid:
                return sampling.SamplingResult(sampling.Decision.DROP)
            return configured.should_sample(parent_context, trace_id, name, kind, *args, **kwargs)

        def get_description(self):
            return f"RequestsOnly{{{configured.get_description()}}}"

    return RequestsOnly()


def _trace_sql(app: Flask, provider) -> None:
    """SQL spans as children of the request's span, for this app's engine only (the
    instrumentor's `instrument()` is once per process; apps in tests are many)."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    from portal.extensions import db

    usage = get_meter("portal.sql").create_up_down_counter("db.client.connections.usage")
    with app.app_context():
        EngineTracer(provider.get_tracer("portal.sql"), db.engine, usage, enable_commenter=False)


def _redacting(inner):
    """A span processor that hands `inner` a redacted copy of every ended span."""
    from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
    from opentelemetry.trace import Status

    from portal.logs import redact

    def clean_value(value):
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, (tuple, list)):
            return tuple(redact(v) if isinstance(v, str) else v for v in value)
        return value

    def clean(attributes):
        return {
            key: clean_value(value)
            for key, value in (attributes or {}).items()
            if not any(word in key.lower() for word in _DROPPED)
        }

    class Redacting(SpanProcessor):
        def on_start(self, span, parent_context=None):
            inner.on_start(span, parent_context=parent_context)

        def on_end(self, span):
            status = span.status
            inner.on_end(
                ReadableSpan(
                    name=redact(span.name),
                    context=span.context,
                    parent=span.parent,
                    resource=span.resource,
                    attributes=clean(span.attributes),
                    events=tuple(
                        Event(e.name, clean(e.attributes), e.timestamp) for e in span.events
                    ),
                    links=span.links,
                    kind=span.kind,
                    status=Status(status.status_code, redact(status.description or "") or None),
                    start_time=span.start_time,
                    end_time=span.end_time,
                    instrumentation_scope=span.instrumentation_scope,
                )
            )

        def shutdown(self):
            inner.shutdown()

        def force_flush(self, timeout_millis=30000):
            return inner.force_flush(timeout_millis)

    return Redacting()
