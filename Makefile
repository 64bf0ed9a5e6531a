# Interactive Avatar Studio: every task in one place.
#   make dev    install what is missing, run the product locally on http://127.0.0.1:$(PORT)
#   make test   install what is missing, run the checks and the whole test suite
#   make site STAGE=prod [REGION=eu-west-1]   build web/dist and upload it to the deployed stack's bucket
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/build.mjs web/tsconfig.json
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install dev check test bench web clean browser site providers-check
.DEFAULT_GOAL := dev

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev]'
	@touch $@

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# API types come from the OpenAPI document: the server's models are their one source (web/src/api/schema.d.ts,
# not committed), so a web type that drifts from what the server sends fails the type-check.
web/src/api/schema.d.ts: $(PY_STAMP) $(WEB_STAMP) $(shell find functions -name '*.py')
	mkdir -p web/src/api
	$(BIN)/avatar-studio openapi web/openapi.json
	cd web && npm run --silent types

# The type-check covers the client (tsconfig.json), its node tests (test/) and the Chromium adapter page
# (test/browser/), so a test that no longer type-checks fails `make web` and with it `make test`.
web/dist/.built: $(WEB_STAMP) web/src/api/schema.d.ts $(WEB_SOURCES) $(shell find web/test -name '*.ts' -o -name tsconfig.json)
	cd web && npm run --silent typecheck && npm run --silent build
	@touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)

install: $(PY_STAMP) $(WEB_STAMP)

web: web/dist/.built

dev: install web
	PORT=$(PORT) $(BIN)/avatar-studio dev

check: $(PY_STAMP)
	$(BIN)/ruff format --check functions tests bench
	$(BIN)/ruff check functions tests bench
	$(BIN)/mypy functions

test: install web browser check
	$(BIN)/pytest

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(PY_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[local,dev,bench]'
	@touch $@

bench: install web browser $(BENCH_STAMP)
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/sessions.py
	$(BIN)/python bench/turns.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/sentences.py
	$(BIN)/python bench/insights.py
	$(BIN)/python bench/stt.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/peers.py

# The stack's outputs give the bucket, the distribution and both API addresses (config.json).
site: install web
	$(BIN)/avatar-studio deploy site --stage $(STAGE) $(if $(REGION),--region $(REGION))

clean:
	rm -rf .build web/dist web/openapi.json web/src/api test-artifacts

# The smallest real round trip with each provider key in the environment (not part of `make test`).
providers-check: $(PY_STAMP)
	$(BIN)/avatar-studio providers check
