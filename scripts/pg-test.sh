#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster on loopback, run a command against it, stop it.
# Usage: scripts/pg-test.sh COMMAND...   (COMPLIANCE_TEST_PG_URL is set for COMMAND)
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "${PG_BIN}" ] || [ ! -x "${PG_BIN}/initdb" ]; then
  echo "PostgreSQL server binaries not found; installing postgresql-15" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  else
    echo "error: PostgreSQL 15 is not installed and this user cannot install it" >&2
    exit 1
  fi
  PG_BIN=/usr/lib/postgresql/15/bin
fi

PORT=${PGTEST_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
DATA=$(mktemp -d /tmp/compliance-pgtest.XXXXXX)
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$DATA"
  RUN_AS=(runuser -u postgres --)
fi

cleanup() {
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA/db" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$DATA/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c full_page_writes=off -c max_connections=200" start >/dev/null

export COMPLIANCE_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PORT for the tests" >&2
set +e
"$@"
status=$?
set -e
exit $status
