# Two commands a newcomer needs: `make run` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test chromium lint format serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Serve the portal at http://localhost:5000 (passkeys need a host name, not an IP) on the
## embedded SQLite database, emails on the console.
run: $(STAMP)
	$(BIN)/flask --app portal db upgrade
	$(BIN)/flask --app portal run --host 127.0.0.1 --port 5000

## The whole test suite on PostgreSQL (TEST_DATABASE_URL, else postgres@127.0.0.1:5432),
## browser tests included (Debian's chromium, installed here when missing and allowed).
test: $(STAMP) chromium
	$(BIN)/pytest -q

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
	  apt-get install -y -qq --no-install-recommends chromium fonts-liberation) || \
	  echo "No chromium (apt-get install chromium): the browser tests will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .

## Production-style server (set DATABASE_URL, SECRET_KEY, PORTAL_ENV=production first);
## --preload makes one app (and one development SECRET_KEY) shared by every worker.
serve: $(STAMP)
	$(BIN)/flask --app portal db upgrade
	$(BIN)/gunicorn --bind 127.0.0.1:8000 --workers 2 --preload wsgi:app

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
