"""`compliance export`: assessments in exchange formats (OSCAL assessment results)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from compliance import outfile
from compliance.cli.context import AppContext, as_of_option, handle_errors, pass_app, say


@click.group()
def export() -> None:
    """Export assessments in exchange formats: `oscal` for OSCAL assessment results."""


@export.command("oscal")
@click.argument("deployment")
@click.option(
    "--assessment",
    "assessment_id",
    help="Assessment id [default: the latest dated on or before the as-of date].",
)
@as_of_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file to write.",
)
@pass_app
@handle_errors
def oscal(
    app: AppContext, deployment: str, assessment_id: str | None, as_of: date, out: Path
) -> None:
    """Write an assessment as an OSCAL assessment-results document (JSON).

    One observation and one finding per result, risk acceptances as risks, evidence files as
    back-matter resources with their SHA-256. `compliance import` reads the document back:
    statuses, notes, evidence and acceptances come back unchanged (evidence files are found
    beside the document or, by hash, in the evidence store).

    \b
    Example:
      compliance export oscal payments-recon-agent --assessment 2026-Q4 -o out/payments-ar.json
      compliance --db sqlite:///other.db import out/payments-ar.json
    """
    from compliance.oscal import export_assessment

    guard = app.guard()
    guard.check(out)
    with app.read_session() as session:
        document = export_assessment(session, deployment, assessment_id, as_of)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    outfile.write_bytes(out, text.encode("utf-8"), guard)
    say(str(out))
