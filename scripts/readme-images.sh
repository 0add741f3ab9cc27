#!/usr/bin/env bash
# The README's pictures of the reports, rendered from the demo's own PDFs and workbooks.
#
#   make demo && scripts/readme-images.sh [DEMO_DIR]
#
# Each picture is the page that holds a given heading, found in the PDF's text, so the pictures
# follow the reports when their page count changes. Needs pdftoppm and pdftotext (poppler-utils);
# the workbook pictures need LibreOffice (`soffice`) and are kept as they are without it.
set -euo pipefail

DEMO_DIR=${1:-out/demo}
REPORTS=$DEMO_DIR/reports
OUT=docs/images
DPI=60
mkdir -p "$OUT"

# page PDF TEXT: the first page whose text holds TEXT.
page() {
  local pdf=$1 text=$2 n pages
  pages=$(pdfinfo "$pdf" | awk '/^Pages:/ {print $2}')
  for ((n = 1; n <= pages; n++)); do
    if pdftotext -f "$n" -l "$n" "$pdf" - | tr -s ' \n' ' ' | grep -qF -- "$text"; then
      echo "$n"
      return
    fi
  done
  echo "no page of $pdf holds '$text'" >&2
  return 1
}

# shot PDF TEXT NAME: render the page holding TEXT as NAME.png.
shot() {
  local pdf=$1 text=$2 name=$3 n
  n=$(page "$pdf" "$text")
  pdftoppm -r "$DPI" -png -singlefile -f "$n" -l "$n" "$pdf" "$OUT/$name"
  echo "$OUT/$name.png: page $n of $pdf"
}

gap=$REPORTS/gap-payments-recon-agent.pdf
shot "$gap" "Safety scores: one input, not the decision" gap-report
shot "$gap" "Gaps, most urgent first" gap-report-gaps
shot "$REPORTS/summary.pdf" "Decisions by risk tier" summary
shot "$REPORTS/summary.pdf" "Where the portfolio stands, by framework function" summary-heatmap
shot "$REPORTS/summary.pdf" "Decisions by tier, quarter by quarter" summary-trend
shot "$REPORTS/summary.pdf" "Re-assessments overdue" summary-attention
evidence=$REPORTS/evidence-nist-csf-2.0.pdf
shot "$evidence" "Part 1: every control across every deployment · GV.RM-06" evidence-by-control
shot "$evidence" "Health claims intake triage agent · GV.SC-06" evidence-report
shot "$REPORTS/plan.pdf" "Plan of action and milestones Deployment and item" plan

if command -v soffice >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # The workbooks print landscape, one page wide: LibreOffice prints them as a user would.
  soffice --headless --convert-to pdf --outdir "$tmp" "$REPORTS/gap-payments-recon-agent.xlsx" >/dev/null
  book=$tmp/gap-payments-recon-agent.pdf
  shot "$book" "Gap report: Payments reconciliation agent" workbook-summary
  n=$(page "$book" "Plan status")
  pdftoppm -r 110 -png -singlefile -f "$n" -l "$n" "$book" "$tmp/gaps"
  # The Gaps sheet's header and first rows: the top of its first page.
  "${PY:-.venv/bin/python}" - "$tmp/gaps.png" "$OUT/workbook.png" <<'EOF'  # Pillow comes with WeasyPrint
import sys
from PIL import Image, ImageChops

page = Image.open(sys.argv[1]).convert("RGB")
box = ImageChops.difference(page, Image.new("RGB", page.size, "white")).getbbox()
if box is not None:
    left, top, right, _bottom = box
    page = page.crop((max(left - 10, 0), max(top - 10, 0), min(right + 10, page.width), top + 260))
page.save(sys.argv[2])
EOF
  echo "$OUT/workbook.png: the Gaps sheet, page $n of the printed workbook"
else
  echo "soffice not found: the workbook pictures are left as they are" >&2
fi
