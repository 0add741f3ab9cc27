"""`compliance export`: assessments in exchange formats (OSCAL assessment results)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from compliance.cli.context import AppContext, handle_errors, pass_app


@click.group()
def export() -> None:
    """Export assessments in exchange formats: `oscal` for OSCAL assessment results."""


@export.command("oscal")
@click.argument("deployment")
@click.option("--assessment", "assessment_id", help="Assessment id [default: the latest].")
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
def oscal(app: AppContext, deployment: str, assessment_id: str | None, out: Path) -> None:
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

    with app.session() as session:
        document = export_assessment(session, deployment, assessment_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(out)  # never leave a half-written document under the real name
    finally:
        tmp.unlink(missing_ok=True)
    click.echo(str(out))
