#!/usr/bin/env bash
# The main job on an embedded SQLite database: load the catalogs, import the examples, decide.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_DIR=${DEMO_DIR:-out/demo}
BIN=${BIN:-.venv/bin}
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
export COMPLIANCE_DB_URL="sqlite:///$DEMO_DIR/compliance.db"
C="$BIN/compliance"

echo "== Loading the catalogs into $DEMO_DIR/compliance.db"
"$C" db upgrade
"$C" catalogs list
echo
echo "== Importing the example assessments"
"$C" import examples/
echo
echo "== Portfolio"
"$C" deployments
for dep in $("$C" deployments --json | "$BIN/python" -c 'import json,sys; print(" ".join(d["deployment"] for d in json.load(sys.stdin)))'); do
  echo
  echo "== compliance gate $dep"
  "$C" gate "$dep" || true
done
echo
echo "Database: $DEMO_DIR/compliance.db (evidence store: $DEMO_DIR/compliance.db.evidence)"
