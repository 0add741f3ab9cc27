"""Entry point: global options and the command groups.

Start-up is part of every command's time (a pipeline gating fifty agents starts the CLI fifty
times), so this module imports click and nothing else. Each command's module is imported when
that command runs (click's lazy loading of subcommands); `--help` lists the commands from the
table below without importing any; and the command modules import their heavy libraries
(reports, spreadsheets, PDF) inside the commands that use them. `tests/test_cli_startup.py`
checks what each command loads.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import click

from compliance import __version__


class Lazy(NamedTuple):
    """Where a subcommand lives, and the first paragraph of its help for `compliance --help`
    (a test holds it equal to the command's own docstring)."""

    target: str  # "module:attribute"
    help: str


COMMANDS: dict[str, Lazy] = {
    "assessment": Lazy("compliance.cli.importing:assessment", "List and finalize assessments."),
    "audit": Lazy("compliance.cli.audit:audit", "Show and verify the append-only audit history."),
    "catalogs": Lazy(
        "compliance.cli.catalogs:catalogs", "List and inspect the framework catalogs."
    ),
    "checks": Lazy(
        "compliance.cli.checks:checks",
        "List the baseline checks and the framework controls each one maps to.",
    ),
    "db": Lazy("compliance.cli.db:db", "Create or migrate the database schema."),
    "deployments": Lazy(
        "compliance.cli.decisions:deployments",
        "List every deployment with the tier and decision of the assessment in force at the\n"
        "as-of date (its latest dated on or before it); one with none is listed as not assessed.",
    ),
    "evidence": Lazy(
        "compliance.cli.evidence:evidence",
        "Check and clean the evidence store.",
    ),
    "export": Lazy(
        "compliance.cli.export:export",
        "Export in exchange formats: assessments (`oscal`: OSCAL assessment results), catalogs,\n"
        "the policy's tiers and the mappings (OSCAL, OLIR, CSV), and CISO Assistant libraries.",
    ),
    "gaps": Lazy(
        "compliance.cli.decisions:gaps",
        "Roll results up onto every control of the frameworks and show the gaps.",
    ),
    "gate": Lazy(
        "compliance.cli.decisions:gate",
        "Decide APPROVE, CONDITIONAL or BLOCK for a deployment under the policy.",
    ),
    "import": Lazy(
        "compliance.cli.importing:import_",
        "Import assessment files (YAML or JSON, OSCAL assessment-results, questionnaire workbooks,\n"
        "CSV results) and folders of them, all or nothing.",
    ),
    "pack": Lazy(
        "compliance.cli.pack:pack",
        "Build an audit pack: reports, evidence files, the exact catalogs, mappings and policy,\n"
        "and a manifest of SHA-256 hashes that anyone can check with `sha256sum -c`; with --sign, an\n"
        "OpenSSH signature of the hashes that `ssh-keygen -Y verify` checks. Every evidence file is\n"
        "checked against its recorded hash. The build is recorded in the audit trail (pack.build,\n"
        "with the SHA-256 of SHA256SUMS).",
    ),
    "questionnaire": Lazy(
        "compliance.cli.questionnaire:questionnaire",
        "Write an assessment questionnaire (Excel): a Profile sheet, a Results sheet listing every\n"
        "check with its objective and test procedure, drop-down lists for status and method, and\n"
        "columns for notes, who tested and when, the sample and remediation; sheets for results on\n"
        "framework controls, evidence and risk acceptances.",
    ),
    "serve": Lazy(
        "compliance.cli.serve:serve",
        "Serve the portal and its API: the portfolio, decisions, controls, evidence, reports, packs\n"
        "and the audit trail, for accounts made with `compliance users add`. Binds to 127.0.0.1 unless\n"
        "told otherwise; put it behind a reverse proxy with TLS to serve others.",
    ),
    "users": Lazy(
        "compliance.cli.users:users", "Manage the portal's accounts (`compliance serve`)."
    ),
    "report": Lazy(
        "compliance.cli.reports:report",
        "Render reports: `gap` for a deployment, `summary` for the portfolio, `evidence` for an\n"
        "auditor, `plan` (plan of action, re-assessment calendar, evidence requests) for the GRC "
        "team.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are run, not when the CLI starts."""

    def __init__(self, *args: Any, lazy: dict[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy:
            import importlib

            module, _, attribute = self.lazy[cmd_name].target.partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.lazy and args[0] not in self.commands:
            # A typo: load every command so that click suggests the nearest, as it would have.
            for name in self.lazy:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, with the help of those not imported taken from the table."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None:
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(limit)))
            else:
                rows.append(
                    (name, click.Command(name, help=self.lazy[name].help).get_short_help_str(limit))
                )
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
    type=click.Path(exists=True, file_okay=False),  # made Paths below: pathlib costs start-up
    help="Folder with organisation catalog, mapping or policy files (repeatable) "
    "[env COMPLIANCE_CATALOG_DIRS, separated by spaces].",
)
@click.option(
    "--evidence-dir",
    type=click.Path(file_okay=False),
    envvar="COMPLIANCE_EVIDENCE_DIR",
    help="Evidence store folder [default: beside the SQLite file, else ./evidence-store].",
)
@click.version_option(__version__, prog_name="compliance")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    catalog_dirs: tuple[str, ...],
    evidence_dir: str | None,
) -> None:
    """Assess AI agent deployments once and report against OWASP ASI 2026, CSA MAESTRO,
    NIST AI RMF 1.0 and NIST CSF 2.0.

    \b
    Example:
      compliance db upgrade
      compliance import examples/
      compliance gate payments-recon-agent --json
    """
    from pathlib import Path  # here, not at start-up: a command is about to run

    from compliance.cli.context import AppContext

    ctx.obj = AppContext(
        db_url, [Path(d) for d in catalog_dirs], Path(evidence_dir) if evidence_dir else None
    )


def main() -> None:
    cli(prog_name="compliance")
