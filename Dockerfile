# Portal: one image for every process of docker-compose.yml (app servers, migrations, mail
# worker, prune job); its CMD serves the app with gunicorn. Linted with hadolint (make lint).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORTAL_ENV=production \
    WEB_CONCURRENCY=3

WORKDIR /app
RUN useradd --create-home --uid 10001 portal

# The pinned dependencies first, every file checked against its hash in requirements.lock
# (make lock), in a layer of their own that a change to the code does not rebuild; then the
# portal itself, which has no hash, without dependencies, and pip check that the lock
# satisfies pyproject.toml's ranges.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY portal ./portal
RUN pip install --no-cache-dir --no-deps . && pip check

COPY wsgi.py ./
COPY templates ./templates
COPY static ./static
COPY migrations ./migrations

# The package is installed, but templates/static/migrations are read from /app.
ENV PYTHONPATH=/app
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
# WEB_CONCURRENCY sets gunicorn's worker processes. On SIGTERM (docker stop) requests in hand
# get 25 s to finish, inside compose's 30 s stop_grace_period.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--graceful-timeout", "25", "wsgi:app"]
