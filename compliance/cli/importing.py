"""`compliance import` and `compliance assessment`: getting assessments in, and sealing them."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.store import integrity, queries
from compliance.store.models import Assessment, Result


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Print only the totals, not a line per file.")
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deployment profile (`deployment:`, optionally `assessment: {id, date, assessor}`) for "
    "documents that carry none: OSCAL assessment results from other tools, CSV results.",
)
@pass_app
@handle_errors
def import_(
    app: AppContext, paths: tuple[Path, ...], quiet: bool, profile_path: Path | None
) -> None:
    """Import assessment files (YAML or JSON, OSCAL assessment-results, questionnaire workbooks,
    CSV results) and folders of them, all or nothing.

    Every file is validated first; if any is bad, each problem is printed with its file and
    place (a workbook's sheet and cell) and nothing is written. Re-importing an unchanged file
    changes nothing. Workbooks (.xlsx) and CSV files are read when named, not when walking a
    folder; formulas, external links and macros in a workbook are refused.

    \b
    Example:
      compliance import examples/
      compliance import assessments/payments-q4.yaml
      compliance import q4-questionnaire.xlsx
      compliance import trestle-results.json --profile payments-profile.yaml
    """
    from compliance.importer.core import import_paths

    profile = None
    if profile_path is not None:
        from compliance.questionnaire.intake import read_profile_file

        profile = read_profile_file(profile_path)
    store = app.evidence_store()
    with app.session() as session:
        report = import_paths(session, store, list(paths), profile)
    if not quiet:
        for label in report.imported:
            say(f"imported   {label}")
        for label in report.replaced:
            say(f"replaced   {label} (draft updated)")
        for label in report.restored:
            say(
                f"restored   {label} (its rows had been changed outside the tool; rewritten from the file)"
            )
        for label in report.unchanged:
            say(f"unchanged  {label}")
        for label in report.skipped:
            say(f"skipped    {label} (not an assessment document)")
    restored = f", {len(report.restored)} restored" if report.restored else ""
    say(
        f"{len(report.imported)} imported, {len(report.replaced)} replaced{restored}, "
        f"{len(report.unchanged)} unchanged; {report.evidence_files} evidence reference(s) to "
        f"{len(report.evidence_distinct)} file(s), {report.evidence_new} of them new in {store.root}"
    )
    if report.evidence_restored:
        say(
            f"{report.evidence_restored} evidence file(s) were missing or altered in the store and were put back"
        )


@click.group()
def assessment() -> None:
    """List and finalize assessments."""


@assessment.command("finalize")
@click.argument("deployment")
@click.argument("assessment_id")
@pass_app
@handle_errors
def finalize(app: AppContext, deployment: str, assessment_id: str) -> None:
    """Seal an assessment: after this it cannot be changed by a re-import.

    \b
    Example:
      compliance assessment finalize payments-recon-agent 2026-Q4
    """
    with app.session() as session:
        a = integrity.finalize(session, deployment, assessment_id)
    say(f"finalized {deployment}/{assessment_id} (fingerprint {a.fingerprint[:16]}...)")


@assessment.command("list")
@click.argument("deployment")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: AppContext, deployment: str, as_json: bool) -> None:
    """List a deployment's assessments, newest first.

    \b
    Example:
      compliance assessment list support-chat-agent
    """
    from sqlalchemy import func

    with app.read_session() as session:
        dep = queries.deployment(session, deployment)
        rows = session.execute(
            select(
                Assessment.key,
                Assessment.assessed_on,
                Assessment.assessor,
                Assessment.state,
                func.count(Result.id),
            )
            .outerjoin(Result, Result.assessment_id == Assessment.id)
            .where(Assessment.deployment_id == dep.id)
            .group_by(
                Assessment.id,
                Assessment.key,
                Assessment.assessed_on,
                Assessment.assessor,
                Assessment.state,
            )
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        ).all()
    data = [
        dict(assessment=k, date=d.isoformat(), assessor=who, state=s, results=n)
        for k, d, who, s, n in rows
    ]
    if as_json:
        echo_json(data)
        return
    for r in data:
        say(
            f"{r['assessment']:<16} {r['date']}  {r['state']:<6} {r['results']:>3} results  {r['assessor']}"
        )
