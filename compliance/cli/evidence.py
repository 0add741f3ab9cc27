"""`compliance evidence`: check the evidence store against the database, and clean it."""

from __future__ import annotations

import sys

import click

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.evidence import check_store, collect_garbage


@click.group()
def evidence() -> None:
    """Check and clean the evidence store."""


@evidence.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def verify(app: AppContext, as_json: bool) -> None:
    """Hash again every stored evidence file the database points to; name every missing or
    altered one with the assessments that use it, and exit 1 if there is any. Re-importing an
    assessment's file puts its evidence back.

    \b
    Example:
      compliance evidence verify
    """
    store = app.evidence_store()
    with app.read_session(sync=False) as session:
        report = check_store(session, store)
    if as_json:
        echo_json(
            dict(
                ok=report.ok,
                checked=report.checked,
                missing=[dict(sha256=s, used_by=u) for s, u in report.missing.items()],
                altered=[
                    dict(sha256=s, found=f, used_by=u) for s, (f, u) in report.altered.items()
                ],
            )
        )
        sys.exit(0 if report.ok else 1)
    for sha, users in report.missing.items():
        say(f"missing: {sha}: used by {'; '.join(users)}", fg="red")
    for sha, (found, users) in report.altered.items():
        say(f"altered: {sha}: now hashes to {found}; used by {'; '.join(users)}", fg="red")
    if report.ok:
        say(f"OK: {report.checked} stored files match their SHA-256 ({store.root})", fg="green")
        return
    say(
        f"{len(report.missing)} missing, {len(report.altered)} altered of {report.checked} "
        f"stored files ({store.root}); re-import the assessments' files to put them back"
    )
    sys.exit(1)


@evidence.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@pass_app
@handle_errors
def gc(app: AppContext, dry_run: bool) -> None:
    """Remove stored files no assessment points to (left by imports that were interrupted or
    replaced) and temporary files of interrupted copies. A file the database points to is never
    removed, and an import running at the same time waits (or makes gc wait).

    \b
    Examples:
      compliance evidence gc --dry-run
      compliance evidence gc
    """
    store = app.evidence_store()
    with app.session(sync=False) as session:
        found = collect_garbage(session, store, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in [*found.blobs, *found.incoming]:
        say(f"{verb} {path}")
    say(
        f"{verb} {len(found.blobs)} unreferenced file(s) and {len(found.incoming)} temporary "
        f"file(s), {found.bytes} bytes, from {store.root}"
    )
