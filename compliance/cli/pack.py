"""`compliance pack`: build an audit pack, or verify one."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from compliance.cli.context import AppContext, echo_json, fail, handle_errors, pass_app
from compliance.cli.decisions import DateType
from compliance.store import catalog_store


@click.group(invoke_without_command=True)
@click.option(
    "--deployment",
    "deployments",
    multiple=True,
    help="Deployment to include (repeatable) [default: all].",
)
@click.option(
    "--framework",
    "frameworks",
    multiple=True,
    help="Framework to report on (repeatable) [default: all].",
)
@click.option(
    "--as-of",
    type=DateType(),
    help="Decide and report as of this date [default: latest assessment date].",
)
@click.option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of templates overriding the built-in ones.",
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Zip file to write.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to decide with instead of the one in force (it is packed too).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Render the reports with this many processes.",
)
@click.pass_context
@handle_errors
def pack(
    ctx: click.Context,
    deployments: tuple[str, ...],
    frameworks: tuple[str, ...],
    as_of: date | None,
    templates: Path | None,
    out: Path | None,
    jobs: int,
    policy_path: Path | None,
) -> None:
    """Build an audit pack: reports, evidence files, the exact catalogs, mappings and policy,
    and a manifest of SHA-256 hashes that anyone can check with `sha256sum -c`.

    \b
    Examples:
      compliance pack -o out/audit-2026-Q4.zip
      compliance pack --deployment payments-recon-agent --framework nist-csf-2.0 -o payments.zip
      compliance pack verify out/audit-2026-Q4.zip
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        fail("missing option -o/--output (the zip file to write)", code=2)
    from rich.console import Console

    from compliance.pack import PackScope, build_pack

    app = ctx.find_object(AppContext)
    assert app is not None
    console = Console(stderr=True)
    with console.status("building the pack") as status, app.session() as session:
        manifest = build_pack(
            session,
            app.evidence_store(),
            catalog_store.resolve_policy(session, policy_path),
            PackScope(deployments, frameworks, as_of),
            out,
            templates,
            progress=lambda msg: status.update(f"pack: {msg}"),
            workers=jobs,
        )
    size = sum(f["size"] for f in manifest["files"])
    click.echo(f"{out}: {len(manifest['files'])} files, {size} bytes, as of {manifest['as_of']}")
    click.echo(
        f"verify with: compliance pack verify {out}   (or unzip and run sha256sum -c SHA256SUMS)"
    )


@pack.command()
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def verify(app: AppContext, zip_path: Path, as_json: bool) -> None:
    """Check every file of a pack against its hashes; exit 1 on any missing, extra, changed or
    unsafe entry. Reads the zip without extracting it.

    \b
    Example:
      compliance pack verify audit-2026-Q4.zip
    """
    from compliance.pack import verify_pack

    report = verify_pack(zip_path)
    if as_json:
        echo_json(
            dict(
                ok=report.ok,
                files_checked=report.files_checked,
                findings=[dict(kind=f.kind, path=f.path, detail=f.detail) for f in report.findings],
            )
        )
    else:
        for f in report.findings:
            click.secho(str(f), fg="red")
        if report.ok:
            m = report.manifest or {}
            click.secho(
                f"OK: {report.files_checked} files match SHA256SUMS and the manifest "
                f"(as of {m.get('as_of')}, tool {m.get('tool', {}).get('version')})",
                fg="green",
            )
        else:
            click.echo(f"{len(report.findings)} finding(s); {report.files_checked} files checked")
    sys.exit(0 if report.ok else 1)
