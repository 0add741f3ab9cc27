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
DEPLOYMENTS=$("$C" deployments --json | "$BIN/python" -c 'import json,sys; print(" ".join(d["deployment"] for d in json.load(sys.stdin)))')
for dep in $DEPLOYMENTS; do
  echo
  echo "== compliance gate $dep"
  "$C" gate "$dep" || true
done

R="$DEMO_DIR/reports"
echo
echo "== Writing every report to $R"
"$C" report summary --format pdf -o "$R/summary.pdf"
"$C" report summary --format xlsx -o "$R/summary.xlsx"
"$C" report summary --format html -o "$R/summary.html"
for dep in $DEPLOYMENTS; do
  "$C" report gap "$dep" --format pdf -o "$R/gap-$dep.pdf"
  "$C" report gap "$dep" --format xlsx -o "$R/gap-$dep.xlsx"
done
"$C" report gap payments-recon-agent --format html -o "$R/gap-payments-recon-agent.html"
for fw in nist-csf-2.0 nist-ai-rmf-1.0 owasp-asi-2026 csa-maestro; do
  "$C" report evidence --framework "$fw" --format pdf -o "$R/evidence-$fw.pdf"
  "$C" report evidence --framework "$fw" --format xlsx -o "$R/evidence-$fw.xlsx"
done
echo
echo "== Building and verifying the audit pack"
"$C" pack -o "$DEMO_DIR/audit-pack.zip"
"$C" pack verify "$DEMO_DIR/audit-pack.zip"
"$C" audit verify
echo
echo "Database: $DEMO_DIR/compliance.db (evidence store: $DEMO_DIR/compliance.db.evidence)"
echo "Reports:  $R"
echo "Pack:     $DEMO_DIR/audit-pack.zip"
