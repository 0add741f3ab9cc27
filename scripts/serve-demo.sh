#!/usr/bin/env bash
# `make serve`: the portal on the demo database, with a demo account made once and kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR=${DEMO_DIR:-out/demo}
BIN=${BIN:-.venv/bin}
PORT=${PORT:-8000}
export COMPLIANCE_DB_URL="sqlite:///$DEMO_DIR/compliance.db"
C="$BIN/compliance"
ACCOUNT="$DEMO_DIR/demo-account.txt"
if [ ! -f "$ACCOUNT" ]; then
  PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
  printf '%s\n' "$PASSWORD" | "$C" users add demo-admin --role admin --password-stdin >/dev/null
  (umask 077 && printf 'demo-admin %s\n' "$PASSWORD" > "$ACCOUNT")
fi
read -r NAME PASSWORD < "$ACCOUNT"
echo "Portal:  http://127.0.0.1:$PORT/portfolio?as_of=2026-11-30"
echo "Account: $NAME / $PASSWORD   (an admin; make others with: $C users add NAME --role viewer|auditor|admin)"
exec "$C" serve --port "$PORT"
