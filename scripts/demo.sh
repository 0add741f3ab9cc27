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
# Every command that decides or reports does so as of this date, so the output tells the
# same story whatever the day it runs (examples/EXPECTED.yaml gives the decisions).
AS_OF=2026-11-30

echo "== Loading the catalogs into $DEMO_DIR/compliance.db"
"$C" db upgrade
"$C" catalogs list
echo
echo "== Importing the example assessments"
"$C" import examples/
echo
echo "== Portfolio as of $AS_OF"
"$C" deployments --as-of "$AS_OF"
DEPLOYMENTS=$("$C" deployments --as-of "$AS_OF" --json | "$BIN/python" -c 'import json,sys; print(" ".join(d["deployment"] for d in json.load(sys.stdin)))')
for dep in $DEPLOYMENTS; do
  echo
  echo "== compliance gate $dep"
  "$C" gate "$dep" --as-of "$AS_OF" || true
done

R="$DEMO_DIR/reports"
echo
echo "== Writing every report to $R"
"$C" report summary --as-of "$AS_OF" --format pdf -o "$R/summary.pdf"
"$C" report summary --as-of "$AS_OF" --format xlsx -o "$R/summary.xlsx"
"$C" report summary --as-of "$AS_OF" --format html -o "$R/summary.html"
"$C" report plan --as-of "$AS_OF" --format pdf -o "$R/plan.pdf"
"$C" report plan --as-of "$AS_OF" --format xlsx -o "$R/plan.xlsx"
"$C" report plan --as-of "$AS_OF" --format html -o "$R/plan.html"
for dep in $DEPLOYMENTS; do
  "$C" report gap "$dep" --as-of "$AS_OF" --format pdf -o "$R/gap-$dep.pdf"
  "$C" report gap "$dep" --as-of "$AS_OF" --format xlsx -o "$R/gap-$dep.xlsx"
done
"$C" report gap payments-recon-agent --as-of "$AS_OF" --format html -o "$R/gap-payments-recon-agent.html"
for fw in nist-csf-2.0 nist-ai-rmf-1.0 owasp-asi-2026 csa-maestro; do
  "$C" report evidence --framework "$fw" --as-of "$AS_OF" --format pdf -o "$R/evidence-$fw.pdf"
  "$C" report evidence --framework "$fw" --as-of "$AS_OF" --format xlsx -o "$R/evidence-$fw.xlsx"
done
echo
echo "== Building and verifying the audit pack"
echo "-- every example assessment is a draft: a pack of drafts is refused"
"$C" pack --as-of "$AS_OF" -o "$DEMO_DIR/audit-pack.zip" || true
echo "-- with --include-drafts, every page of every report in it says DRAFT"
"$C" pack --as-of "$AS_OF" --include-drafts --jobs 2 -o "$DEMO_DIR/audit-pack-draft.zip"
echo "-- the assessments in force are finalized (sealed), then packed"
"$C" deployments --as-of "$AS_OF" --json | "$BIN/python" -c 'import json,sys; [print(d["deployment"], d["assessment"]) for d in json.load(sys.stdin) if d["assessment"]]' |
  while read -r dep assessment; do "$C" assessment finalize "$dep" "$assessment"; done
"$C" pack --as-of "$AS_OF" --jobs 2 -o "$DEMO_DIR/audit-pack.zip"
"$C" pack verify "$DEMO_DIR/audit-pack.zip"
"$C" audit verify
echo
echo "Database: $DEMO_DIR/compliance.db (evidence store: $DEMO_DIR/compliance.db.evidence)"
echo "Reports:  $R"
echo "Pack:     $DEMO_DIR/audit-pack.zip (and audit-pack-draft.zip, built before the assessments were finalized)"
