"""`compliance questionnaire`: the assessment workbook an assessor fills in."""

from __future__ import annotations

from pathlib import Path

import click

from compliance import outfile
from compliance.cli.context import AppContext, as_of_option, handle_errors, pass_app, say


@click.command("questionnaire")
@click.argument("deployment", required=False)
@click.option(
    "--assessment",
    "assessment_id",
    help="Prefill from this assessment [default: the latest dated on or before the as-of date].",
)
@as_of_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workbook to write (.xlsx).",
)
@pass_app
@handle_errors
def questionnaire(
    app: AppContext, deployment: str | None, assessment_id: str | None, as_of: object, out: Path
) -> None:
    """Write an assessment questionnaire (Excel): a Profile sheet, a Results sheet listing every
    check with its objective and test procedure, drop-down lists for status and method, and
    columns for notes, who tested and when, the sample and remediation; sheets for results on
    framework controls, evidence and risk acceptances.

    With DEPLOYMENT, it is prefilled from that deployment's latest assessment. `compliance
    import FILE.xlsx` reads it back with the same validation as an assessment file.

    \b
    Example:
      compliance questionnaire -o blank.xlsx
      compliance questionnaire payments-recon-agent -o payments-q1.xlsx
      compliance import payments-q1.xlsx
    """
    from datetime import date

    from compliance.catalogs import load_catalog_set
    from compliance.questionnaire.workbook import build

    assert isinstance(as_of, date)
    guard = app.guard()
    guard.check(out)
    prefill = None
    if deployment is not None:
        from compliance.questionnaire.prefill import assessment_document

        with app.read_session() as session:
            prefill = assessment_document(session, deployment, assessment_id, as_of)
    cs = load_catalog_set(app.catalog_dirs)
    assert cs.checks is not None
    titles = {
        f"{fid}/{c.ref}": c.title or c.text or ""
        for fid, cat in cs.catalogs.items()
        for c in cat.doc.controls
    }
    data = build(list(cs.checks.doc.checks), titles, prefill)
    outfile.write_bytes(out, data, guard)
    say(str(out))
