#!/usr/bin/env bash
# The whole suite: lint, types, then every test on SQLite and on a throwaway PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

$PY -m ruff check src tests benchmarks tools scripts
$PY -m mypy

pgdir=$(mktemp -d /tmp/custmdm-test-pg.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
# Durability is irrelevant for a throwaway test server; speed is not.
export PG_SETTINGS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
CUSTMDM_TEST_PG_URL=$(scripts/pg.sh start "$pgdir" "$($PY scripts/free-port.py)")
export CUSTMDM_TEST_PG_URL CUSTMDM_REQUIRE_PG=1
$PY -m pytest --cov=custmdm --cov-report=term:skip-covered --cov-fail-under=85 "$@"
