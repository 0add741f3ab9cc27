"""`compliance report`: gap, summary and evidence reports as PDF, HTML or Excel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from compliance import outfile
from compliance.cli.context import AppContext, as_of_option, handle_errors, pass_app, say
from compliance.reports import model
from compliance.store import catalog_store

FORMATS = ("pdf", "html", "xlsx")


def _output(
    report: dict[str, Any],
    fmt: str,
    out: Path,
    templates: Path | None,
    guard: outfile.Protected,
) -> None:
    guard.check(out)  # before the rendering, which can take a while
    console = Console(stderr=True)
    with console.status(f"rendering {report['kind']} report as {fmt}") as status:

        def progress(msg: str) -> None:
            status.update(f"{report['kind']} report: {msg}")

        # Never a half-written report under the real name, never through a planted link.
        with outfile.replacing(out, guard) as fh:
            from compliance.reports import render  # the PDF and HTML stack, for this format

            if fmt == "html":
                fh.write(render.render_html(report, templates).encode("utf-8"))
            elif fmt == "pdf":
                render.render_pdf(report, fh, templates, progress)
            else:
                from compliance.reports.xlsx import write_workbook

                write_workbook(report, fh)
    say(str(out))


def _guard(app: AppContext, templates: Path | None, policy_path: Path | None) -> outfile.Protected:
    return app.guard(
        files=[(policy_path, "the policy file of this command")],
        folders=[(templates, "the templates folder of this command")],
    )


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--policy",
        "policy_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Policy file to decide with instead of the one in force.",
    )(fn)
    fn = click.option(
        "--templates",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Folder of templates overriding the built-in ones (branding, logo, colours).",
    )(fn)
    fn = as_of_option(fn)
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
    """Render reports: `gap` for a deployment, `summary` for the portfolio, `evidence` for an
    auditor, `plan` (plan of action, re-assessment calendar, evidence requests) for the GRC team."""


@report.command()
@click.argument("deployments", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every deployment with an assessment.")
@click.option(
    "--assessment",
    "assessment_id",
    help="Assessment id [default: the latest]; one deployment only.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Render with this many processes.",
)
@_common
@pass_app
@handle_errors
def gap(
    app: AppContext,
    deployments: tuple[str, ...],
    every: bool,
    assessment_id: str | None,
    jobs: int,
    fmt: str,
    out: Path,
    as_of: date,
    templates: Path | None,
    policy_path: Path | None,
) -> None:
    """Gap report for a deployment: decision, profile, gaps with remediation, every control.

    With several deployments (or --all), -o names a folder and each report is written there as
    gap-DEPLOYMENT.FORMAT, rendered by --jobs processes.

    \b
    Examples:
      compliance report gap payments-recon-agent --format pdf -o out/payments-gap.pdf
      compliance report gap --all --jobs 2 -o out/gap-reports/
    """
    if not deployments and not every:
        raise click.UsageError("name a DEPLOYMENT or give --all")
    with app.read_session() as session:
        policy = catalog_store.resolve_policy(session, policy_path)
        keys = list(deployments) or [
            d.key for d, _a, _p in model.latest_assessments(session, as_of) if _a is not None
        ]
        if assessment_id and len(keys) != 1:
            raise click.UsageError("--assessment goes with exactly one deployment")
        reports = [model.gap_report(session, key, assessment_id, as_of, policy) for key in keys]
    guard = _guard(app, templates, policy_path)
    if len(keys) == 1 and not every:
        _output(reports[0], fmt, out, templates, guard)
        return
    guard.check_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    targets = [out / f"gap-{r['deployment']['key']}.{fmt}" for r in reports]
    for target in targets:
        guard.check(target)
    _output_many(reports, fmt, targets, templates, jobs, guard)


def _output_many(
    reports: list[dict[str, Any]],
    fmt: str,
    targets: list[Path],
    templates: Path | None,
    jobs: int,
    guard: outfile.Protected,
) -> None:
    from rich.progress import Progress

    from compliance.reports.batch import RenderJob, render_all

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"rendering {len(reports)} reports", total=len(reports))
        rendered = render_all(
            [RenderJob(r, fmt, templates) for r in reports],
            jobs,
            lambda done, _total: bar.update(task, completed=done),
        )
    for target, data in zip(targets, rendered, strict=True):
        outfile.write_bytes(target, data, guard)
        say(str(target))


@report.command()
@_common
@pass_app
@handle_errors
def summary(
    app: AppContext,
    fmt: str,
    out: Path,
    as_of: date,
    templates: Path | None,
    policy_path: Path | None,
) -> None:
    """Posture summary of the whole portfolio for a CISO, on six pages whatever its size.

    \b
    Example:
      compliance report summary --format pdf -o out/posture.pdf --as-of 2026-12-01
    """
    with app.read_session() as session:
        data = model.summary_report(
            session, as_of, catalog_store.resolve_policy(session, policy_path)
        )
    _output(data, fmt, out, templates, _guard(app, templates, policy_path))


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
    as_of: date,
    templates: Path | None,
    policy_path: Path | None,
) -> None:
    """Control-by-control evidence report for an auditor.

    \b
    Example:
      compliance report evidence --framework nist-csf-2.0 --format xlsx -o out/csf-evidence.xlsx
    """
    with app.read_session() as session:
        data = model.evidence_report(
            session,
            framework,
            deployment,
            as_of,
            policy=catalog_store.resolve_policy(session, policy_path),
        )
    _output(data, fmt, out, templates, _guard(app, templates, policy_path))


@report.command()
@_common
@pass_app
@handle_errors
def plan(
    app: AppContext,
    fmt: str,
    out: Path,
    as_of: date,
    templates: Path | None,
    policy_path: Path | None,
) -> None:
    """Plan of action and milestones for the GRC team: every open gap with its owner, due date
    and status, the re-assessment calendar, the evidence to request from each owner and the
    register of results recorded as not applicable.

    \b
    Example:
      compliance report plan --format xlsx -o out/plan.xlsx --as-of 2026-12-01
    """
    with app.read_session() as session:
        data = model.plan_report(session, as_of, catalog_store.resolve_policy(session, policy_path))
    _output(data, fmt, out, templates, _guard(app, templates, policy_path))
