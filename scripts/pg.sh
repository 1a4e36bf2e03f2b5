#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite and the benchmarks.
#
#   scripts/pg.sh install          install Debian's postgresql when missing (needs root)
#   scripts/pg.sh start DIR PORT   initialise a fresh cluster in DIR and start it;
#                                  prints its URL. Extra server settings: $PG_SETTINGS
#   scripts/pg.sh stop DIR         stop it (DIR may then be deleted)
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install() {
  [ -n "$(pg_bin)" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed; run as root or: sudo apt-get install postgresql" >&2
    exit 1
  fi
  echo "installing PostgreSQL (apt-get install postgresql) ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null
}

# The server refuses to run as root: run it as the postgres user then.
as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  rm -rf "$dir" && mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  # Byte-order collation (fast, stable), but a UTF-8 character classification: pg_trgm
  # only makes trigrams of characters the locale calls letters, Chinese included.
  as_server_user "$bin/initdb" -D "$dir/data" -U custmdm -A trust -E UTF8 --locale=C \
    --lc-ctype=C.UTF-8 >/dev/null
  as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_SETTINGS:-}" \
    start >/dev/null
  echo "postgresql://custmdm@127.0.0.1:$port/postgres"
}

stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_server_user "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) install; start "$2" "$3" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
