# Two commands a newcomer needs: `make run` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
# pyproject.toml keeps the ranges; the lock files pin every distribution with its hashes
# (`make lock` writes them). The venv gets the dev lock: runtime and dev extra together.
DEV_LOCK = requirements-dev.lock
LOCK     = requirements.lock
# The stamp is named after both files' checksum, so a changed pyproject.toml or lock
# reinstalls even when its date is older than the stamp's (a pull, a switch of branch).
STAMP    = $(VENV)/.installed-$(shell cat pyproject.toml $(DEV_LOCK) | cksum | cut -d' ' -f1)

.PHONY: install lock run test chromium ops-tools check-deploy lint format serve bench clean

# The lock's pins and hashes, then the project itself editable and without dependencies
# (a local folder has no hash, so it cannot be in a --require-hashes install). The pip
# upgrade stays: the pip a venv starts with can be old.
$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Write the lock files from pyproject.toml's ranges, for Linux x86_64 and Python 3.11, with
## uv (installed into the venv for this only): $(DEV_LOCK) (runtime and dev extra: make
## install, CI) and $(LOCK) (runtime: the Dockerfile), pinned alike. Pins already in a lock
## are kept while the ranges allow them; `make lock LOCK_ARGS=--upgrade` moves everything
## to the newest allowed, `LOCK_ARGS='--upgrade-package flask'` one distribution.
LOCK_ARGS  ?=
UV_COMPILE  = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes \
              --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
              --custom-compile-command 'make lock' $(LOCK_ARGS)
lock:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(UV_COMPILE) --extra dev --output-file $(DEV_LOCK)
	$(UV_COMPILE) --constraint $(DEV_LOCK) --output-file $(LOCK)

## Serve the portal at http://localhost:5000 (passkeys need a host name, not an IP) on the
## embedded SQLite database, emails on the console.
run: $(STAMP)
	$(BIN)/flask --app portal db upgrade
	$(BIN)/flask --app portal run --host 127.0.0.1 --port 5000

## The whole test suite on PostgreSQL (TEST_DATABASE_URL, else postgres@127.0.0.1:5432),
## browser tests included (Debian's chromium, installed here when missing and allowed), after
## the deployment files are checked (check-deploy).
test: $(STAMP) chromium ops-tools check-deploy
	$(BIN)/pytest -q

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends chromium fonts-liberation) || \
	  echo "No chromium (apt-get install chromium): the browser tests will be skipped"

## Debian's nginx (nginx -t, and tests/ops runs it in front of gunicorn) and PostgreSQL's
## server programs (tests/ops restarts a private cluster), installed when missing. The
## package's own nginx service is not left running.
ops-tools:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends nginx && \
	   if test -s /run/nginx.pid; then /usr/sbin/nginx -s quit; fi)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends postgresql)

## The deployment files without Docker: docker-compose.yml against the compose schema, and
## nginx -t on deploy/nginx/portal.conf.template rendered for local ports.
check-deploy: $(STAMP) ops-tools
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(BIN)/python deploy/render_nginx.py check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

format: $(STAMP)
	$(BIN)/ruff format .

## Production-style server (set DATABASE_URL, SECRET_KEY, PORTAL_ENV=production first);
## --preload makes one app (and one development SECRET_KEY) shared by every worker.
serve: $(STAMP)
	$(BIN)/flask --app portal db upgrade
	$(BIN)/gunicorn --bind 127.0.0.1:8000 --workers 2 --preload wsgi:app

## The portal under load (scripts/bench.py): seeded PostgreSQL kept between runs, gunicorn,
## wrk; rps, p50 and p99 per route. SCALE=1000000 compares 10,000 and 1,000,000 users in one
## interleaved run (the first seeding of a million users takes a few minutes). Not a test.
SCALE ?= 10000
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk)
	SCALE=$(SCALE) $(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
