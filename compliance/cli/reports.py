"""`compliance report`: gap, summary and evidence reports as PDF, HTML or Excel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from compliance.cli.context import AppContext, handle_errors, pass_app
from compliance.cli.decisions import DateType
from compliance.reports import model, render
from compliance.store import catalog_store

FORMATS = ("pdf", "html", "xlsx")


def _output(report: dict[str, Any], fmt: str, out: Path, templates: Path | None) -> None:
    console = Console(stderr=True)
    with console.status(f"rendering {report['kind']} report as {fmt}") as status:

        def progress(msg: str) -> None:
            status.update(f"{report['kind']} report: {msg}")

        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.partial")
        try:
            if fmt == "html":
                tmp.write_text(render.render_html(report, templates), encoding="utf-8")
            elif fmt == "pdf":
                render.render_pdf(report, tmp, templates, progress)
            else:
                from compliance.reports.xlsx import write_workbook

                write_workbook(report, tmp)
            tmp.replace(out)  # never leave a half-written report under the real name
        finally:
            tmp.unlink(missing_ok=True)
    click.echo(str(out))


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--templates",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Folder of templates overriding the built-in ones (branding, logo, colours).",
    )(fn)
    fn = click.option("--as-of", type=DateType(), help="Decide and report as of this date.")(fn)
    fn = click.option(
        "-o",
        "--output",
        "out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="File to write.",
    )(fn)
    fn = click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True
    )(fn)
    return fn


@click.group()
def report() -> None:
    """Render reports: `gap` for a deployment, `summary` for the portfolio, `evidence` for an auditor."""


@report.command()
@click.argument("deployment")
@click.option("--assessment", "assessment_id", help="Assessment id [default: the latest].")
@_common
@pass_app
@handle_errors
def gap(
    app: AppContext,
    deployment: str,
    assessment_id: str | None,
    fmt: str,
    out: Path,
    as_of: date | None,
    templates: Path | None,
) -> None:
    """Gap report for one deployment: decision, profile, gaps with remediation, every control.

    \b
    Example:
      compliance report gap payments-recon-agent --format pdf -o out/payments-gap.pdf
    """
    with app.session() as session:
        data = model.gap_report(
            session, deployment, assessment_id, as_of, catalog_store.current_policy(session)
        )
    _output(data, fmt, out, templates)


@report.command()
@_common
@pass_app
@handle_errors
def summary(
    app: AppContext, fmt: str, out: Path, as_of: date | None, templates: Path | None
) -> None:
    """Posture summary of the whole portfolio for a CISO, in at most four pages.

    \b
    Example:
      compliance report summary --format pdf -o out/posture.pdf --as-of 2026-12-01
    """
    with app.session() as session:
        data = model.summary_report(session, as_of, catalog_store.current_policy(session))
    _output(data, fmt, out, templates)


@report.command()
@click.option("--framework", required=True, help="Framework id, e.g. nist-csf-2.0.")
@click.option("--deployment", help="Only this deployment [default: every deployment].")
@_common
@pass_app
@handle_errors
def evidence(
    app: AppContext,
    framework: str,
    deployment: str | None,
    fmt: str,
    out: Path,
    as_of: date | None,
    templates: Path | None,
) -> None:
    """Control-by-control evidence report for an auditor.

    \b
    Example:
      compliance report evidence --framework nist-csf-2.0 --format xlsx -o out/csf-evidence.xlsx
    """
    with app.session() as session:
        data = model.evidence_report(
            session, framework, deployment, as_of, policy=catalog_store.current_policy(session)
        )
    _output(data, fmt, out, templates)
