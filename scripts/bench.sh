#!/usr/bin/env bash
# make bench: every benchmark, BENCH_REPEAT times (default 3), on a fresh durable
# PostgreSQL (fsync and synchronous_commit on, as in production) and on SQLite files.
# Raw PostgreSQL peers (pgbench) run on the same server in the same run.
# Results: bench-results/run-<time>.jsonl, and a table of medians on stdout.
# BENCH_MILLION=1 also times building the 1,000,000-customer demo register.
# BENCH_SEARCH=N also runs the search benchmark on N demo customers, on SQLite and on
# PostgreSQL (1000000 for the documented numbers; it builds both registers first).
# BENCH_DEDUP=N also measures the duplicate check and the batch run on N demo customers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
REPEAT=${BENCH_REPEAT:-3}
mkdir -p bench-results
out="bench-results/run-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
work=$(mktemp -d /tmp/custmdm-bench.XXXXXX)
chmod 755 "$work"  # the server runs as the postgres user when we are root
pgdir="$work/pg"
export CUSTMDM_KEY_FILE="$work/keys.json"  # the registers' keys, thrown away with them
trap 'scripts/pg.sh stop "$pgdir"; rm -rf "$work"' EXIT
export PG_SETTINGS="-c shared_buffers=512MB -c max_wal_size=4GB"
base=$(scripts/pg.sh start "$pgdir" "$($PY scripts/free-port.py)")
psql_() { "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql" "$@"; }
fresh_pg() {  # a new empty database; prints its URL
  local name="bench_$1"
  psql_ "$base" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null 2>&1
  echo "${base%/*}/$name"
}

{
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -srm)"
  echo "python: $($PY -V 2>&1); postgresql: $(psql_ --version)"
} >&2

for run in $(seq "$REPEAT"); do
  echo "run $run/$REPEAT" >&2
  $PY benchmarks/pgbench_peer.py --db "$(fresh_pg peer)" --script counter_insert | tee -a "$out"
  $PY benchmarks/pgbench_peer.py --db "$(fresh_pg peer)" --script sequence_insert | tee -a "$out"
  for rule in gapless gap-allowed; do
    $PY benchmarks/bench_register.py --db "$(fresh_pg reg)" --rule $rule --count 8000 | tee -a "$out"
    rm -f "$work"/reg.db*
    $PY benchmarks/bench_register.py --db "sqlite:///$work/reg.db" --rule $rule --count 4000 \
      | tee -a "$out"
  done
  rm -f "$work"/bulk.db*
  $PY benchmarks/bench_bulk.py --db "sqlite:///$work/bulk.db" --count 200000 | tee -a "$out"
  $PY benchmarks/bench_bulk.py --db "$(fresh_pg bulk)" --count 100000 | tee -a "$out"
done

if [ "${BENCH_MILLION:-0}" = 1 ]; then
  rm -f "$work"/million.db*
  start=$(date +%s.%N)
  .venv/bin/custmdm --db "sqlite:///$work/million.db" init >/dev/null
  .venv/bin/custmdm --db "sqlite:///$work/million.db" demo --customers 1000000 >&2
  end=$(date +%s.%N)
  $PY -c "import json; s=$end-$start; print(json.dumps({'benchmark': 'demo-1M-build', 'database': 'sqlite', 'seconds': round(s, 1), 'per_second': round(1e6 / s, 1)}))" | tee -a "$out"
fi

if [ -n "${BENCH_SEARCH:-}" ]; then
  # Each database: build and measure; then, as root, measure again from a cold page cache.
  cold=()
  [ "$(id -u)" = 0 ] && cold=(--drop-caches --peer-queries 0)
  rm -f "$work"/search.db*
  for db in "sqlite:///$work/search.db" "$(fresh_pg search)"; do
    $PY benchmarks/bench_search.py --db "$db" --customers "$BENCH_SEARCH" | tee -a "$out"
    if [ ${#cold[@]} -gt 0 ]; then
      $PY benchmarks/bench_search.py --db "$db" "${cold[@]}" \
        | sed 's/"benchmark": "search"/"benchmark": "search-cold"/' | tee -a "$out"
    fi
  done
fi

if [ -n "${BENCH_DEDUP:-}" ]; then
  # The duplicate check (accuracy and latency) on N demo customers, on SQLite and on
  # PostgreSQL; then the batch run (Splink: default vs routine) on the SQLite register.
  rm -f "$work"/dedup.db*
  for db in "sqlite:///$work/dedup.db" "$(fresh_pg dedup)"; do
    $PY benchmarks/bench_dedup.py --db "$db" --customers "$BENCH_DEDUP" | tee -a "$out"
  done
  $PY benchmarks/bench_batch.py --db "sqlite:///$work/dedup.db" | tee -a "$out"
fi

echo >&2
$PY benchmarks/summarise.py "$out"
