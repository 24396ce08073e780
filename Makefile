# recon: the two commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
export RECON_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1/test

.PHONY: install run test lint browser-deps bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "recon needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make run: install, migrate, seed the demo and serve it on http://127.0.0.1:5000/
run: install
	$(BIN)/recon db upgrade
	$(BIN)/recon demo
	$(BIN)/recon serve --host $(HOST) --port $(PORT)

## Debian's Chromium for the browser tests (never a downloaded browser), and Debian's xmlsec1
## (the receipts tests' independent XMLDSig verifier)
browser-deps:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-core >/dev/null; }
	@test -x /usr/bin/xmlsec1 || { \
	  echo "Installing Debian's xmlsec1 (the receipts tests' independent signature verifier)..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq xmlsec1 >/dev/null; }

## make test: install everything and run the whole suite (SQLite and PostgreSQL)
test: install browser-deps
	$(BIN)/pytest

## make lint: style, types, and the house's import contracts (setup.cfg [importlinter])
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache .grimp_cache
