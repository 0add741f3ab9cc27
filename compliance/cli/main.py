"""Entry point: global options and the command groups."""

from __future__ import annotations

from pathlib import Path

import click

from compliance import __version__
from compliance.cli import (
    audit,
    catalogs,
    checks,
    db,
    decisions,
    evidence,
    export,
    importing,
    pack,
    reports,
    serve,
    users,
)
from compliance.cli.context import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db_url",
    envvar="COMPLIANCE_DB_URL",
    metavar="URL",
    help="Database URL [env COMPLIANCE_DB_URL; default sqlite:///compliance.db].",
)
@click.option(
    "--catalog-dir",
    "catalog_dirs",
    multiple=True,
    envvar="COMPLIANCE_CATALOG_DIRS",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder with organisation catalog, mapping or policy files (repeatable) "
    "[env COMPLIANCE_CATALOG_DIRS, separated by spaces].",
)
@click.option(
    "--evidence-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="COMPLIANCE_EVIDENCE_DIR",
    help="Evidence store folder [default: beside the SQLite file, else ./evidence-store].",
)
@click.version_option(__version__, prog_name="compliance")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    catalog_dirs: tuple[Path, ...],
    evidence_dir: Path | None,
) -> None:
    """Assess AI agent deployments once and report against OWASP ASI 2026, CSA MAESTRO,
    NIST AI RMF 1.0 and NIST CSF 2.0.

    \b
    Example:
      compliance db upgrade
      compliance import examples/
      compliance gate payments-recon-agent --json
    """
    ctx.obj = AppContext(db_url, list(catalog_dirs), evidence_dir)


cli.add_command(db.db)
cli.add_command(catalogs.catalogs)
cli.add_command(checks.checks)
cli.add_command(importing.import_)
cli.add_command(importing.assessment)
cli.add_command(decisions.gaps)
cli.add_command(decisions.gate)
cli.add_command(decisions.deployments)
cli.add_command(reports.report)
cli.add_command(export.export)
cli.add_command(pack.pack)
cli.add_command(audit.audit)
cli.add_command(evidence.evidence)
cli.add_command(users.users)
cli.add_command(serve.serve)


def main() -> None:
    cli(prog_name="compliance")
