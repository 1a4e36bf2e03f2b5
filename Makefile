# Two commands for a new machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test bench lint install clean docs

$(VENV)/.installed: pyproject.toml
	@# Debian's own python3 needs python3-venv for this; install it when we may.
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## run: create the local register (SQLite), load demo data if empty, show a summary,
## and serve the REST API on http://127.0.0.1:8000 (docs at /docs) with an admin token
run: install
	$(BIN)/custmdm init
	$(BIN)/custmdm demo --if-empty --customers 2000
	$(BIN)/custmdm overview
	$(BIN)/custmdm serve --admin-token --admin-password

## test: lint, type-check and the whole suite on SQLite and a throwaway PostgreSQL
test: install
	scripts/test.sh

## bench: the benchmarks (not part of make test); results go to docs/benchmarks.md
bench: install
	scripts/bench.sh

lint: install
	$(PY) -m ruff check src tests
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

## docs: regenerate the command reference (docs/cli.md)
docs: install
	tools/gen_cli_docs.sh
