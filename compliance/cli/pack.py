"""`compliance pack`: build an audit pack, or verify one."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from compliance.cli.context import (
    AppContext,
    as_of_option,
    echo_json,
    fail,
    handle_errors,
    pass_app,
    say,
)
from compliance.pack_names import SIGNATURE, SSHSIG_NAMESPACE
from compliance.store import audit, catalog_store, identity


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
@as_of_option
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
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="KEY",
    help="Sign SHA256SUMS with this OpenSSH Ed25519 private key (SHA256SUMS.sig, SSHSIG, "
    f"namespace {SSHSIG_NAMESPACE}).",
)
@click.option(
    "--include-drafts",
    is_flag=True,
    help="Pack assessments that are still drafts (refused otherwise); every page of every "
    "report then says DRAFT.",
)
@click.pass_context
@handle_errors
def pack(
    ctx: click.Context,
    deployments: tuple[str, ...],
    frameworks: tuple[str, ...],
    as_of: date,
    templates: Path | None,
    out: Path | None,
    jobs: int,
    policy_path: Path | None,
    sign_key: Path | None,
    include_drafts: bool,
) -> None:
    """Build an audit pack: reports, evidence files, the exact catalogs, mappings and policy,
    and a manifest of SHA-256 hashes that anyone can check with `sha256sum -c`; with --sign, an
    OpenSSH signature of the hashes that `ssh-keygen -Y verify` checks. Every evidence file is
    checked against its recorded hash. The build is recorded in the audit trail (pack.build,
    with the SHA-256 of SHA256SUMS).

    \b
    Examples:
      compliance pack -o out/audit-2026-Q4.zip
      compliance pack --deployment payments-recon-agent --framework nist-csf-2.0 -o payments.zip
      compliance pack --sign ~/.ssh/grc_pack_ed25519 -o out/audit-2026-Q4.zip
      compliance pack verify out/audit-2026-Q4.zip --signer grc_pack_ed25519.pub
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        fail("missing option -o/--output (the zip file to write)", code=2)
    from rich.console import Console

    from compliance import sshsig
    from compliance.pack import PackScope, build_pack

    app = ctx.find_object(AppContext)
    assert app is not None
    key = sshsig.load_signing_key(sign_key) if sign_key else None
    guard = app.guard(
        files=[(policy_path, "the policy file of this command")],
        folders=[(templates, "the templates folder of this command")],
    )
    guard.check(out)

    def record(detail: dict[str, Any]) -> None:
        # The pack's own event, in a short write transaction: the build itself held no lock.
        with app.session(sync=False) as session:
            audit.record(session, "pack.build", out.name, detail)

    console = Console(stderr=True)
    # A read-only snapshot: a long pack never holds up gates, reports or imports.
    with console.status("building the pack") as status, app.read_session() as session:
        store = app.evidence_store()
        identity.check(session, store)  # the files must come from this database's store
        manifest = build_pack(
            session,
            store,
            catalog_store.resolve_policy(session, policy_path),
            PackScope(as_of, deployments, frameworks, include_drafts),
            out,
            templates,
            progress=lambda msg: status.update(f"pack: {msg}"),
            workers=jobs,
            sign_with=key,
            guard=guard,
            on_built=record,
        )
    size = sum(f["size"] for f in manifest["files"])
    own = ["manifest.json", "VERIFY.txt", "SHA256SUMS"] + (["SHA256SUMS.sig"] if key else [])
    say(
        f"{out}: {len(manifest['files']) + len(own)} files ({len(manifest['files'])} listed in "
        f"the manifest, {size} bytes, and {', '.join(own)}), as of {manifest['as_of']}"
    )
    if manifest.get("drafts"):
        say(
            f"DRAFT: {len(manifest['drafts'])} assessment(s) in the pack are not finalized; "
            "every page of every report says so",
            fg="yellow",
        )
    head = manifest["audit"]["data_head"]
    if head:
        say(f"built from the audit trail up to event {head['events']}:{head['hash']}")
    if key is not None:
        say(f"signed by {key.public.fingerprint} ({SIGNATURE}, namespace {SSHSIG_NAMESPACE})")
    say(
        f"verify with: compliance pack verify {out}"
        + (f" --signer {sign_key}.pub" if key else "")
        + "   (or without the tool: see VERIFY.txt in the pack)"
    )


@pack.command()
@click.argument("zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--signer",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PUBKEY",
    help="Require a valid signature by this OpenSSH public key (a .pub file).",
)
@click.option(
    "--allowed-signers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Require a valid signature by a key of this OpenSSH allowed-signers file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def verify(
    app: AppContext,
    zip_path: Path,
    signer: Path | None,
    allowed_signers: Path | None,
    as_json: bool,
) -> None:
    """Check a pack as unzip would extract it: every entry's name and place (extra fields,
    directory entries holding data, names read differently by different tools, encryption and
    anything else the builder never writes are refused), every file against SHA256SUMS and the
    manifest, and the signature. Exit 1 on any finding. Reads the zip without extracting it.

    \b
    Examples:
      compliance pack verify audit-2026-Q4.zip
      compliance pack verify audit-2026-Q4.zip --signer grc_pack_ed25519.pub
      compliance pack verify audit-2026-Q4.zip --allowed-signers allowed_signers
    """
    from compliance import sshsig
    from compliance.pack import Trust, verify_pack

    trust = None
    if signer or allowed_signers:
        trust = Trust(
            sshsig.load_public_key(signer) if signer else None,
            tuple(sshsig.parse_allowed_signers(allowed_signers)) if allowed_signers else None,
        )
    report = verify_pack(zip_path, trust)
    m = report.manifest or {}
    head = (m.get("audit") or {}).get("data_head") if isinstance(m.get("audit"), dict) else None
    if as_json:
        echo_json(
            dict(
                ok=report.ok,
                files_checked=report.files_checked,
                signed_by=report.signed_by.fingerprint if report.signed_by else None,
                signer_trusted=report.signer_trusted,
                files=report.entries,
                principal=report.principal,
                data_head=head,
                findings=[dict(kind=f.kind, path=f.path, detail=f.detail) for f in report.findings],
            )
        )
    else:
        for f in report.findings:
            say(str(f), fg="red")
        if report.ok:
            say(
                f"OK: {report.entries} files: {report.files_checked} match SHA256SUMS and the "
                f"manifest, and SHA256SUMS{' and its signature' if report.signed_by else ''} "
                f"(as of {m.get('as_of')}, tool {m.get('tool', {}).get('version')})",
                fg="green",
            )
            if report.signed_by is not None:
                who = f" ({report.principal})" if report.principal else ""
                trusted = (
                    "the expected signer"
                    if report.signer_trusted
                    else "not checked against a trusted key: pass --signer or --allowed-signers"
                )
                say(f"signed by {report.signed_by.fingerprint}{who}: {trusted}")
            else:
                say("not signed")
            custom = m.get("template_overrides")
            if isinstance(custom, list) and custom:
                say(
                    f"note: its reports were rendered with {len(custom)} custom template "
                    "file(s), listed in manifest.json (template_overrides) and VERIFY.txt",
                    fg="yellow",
                )
            if isinstance(head, dict):
                say(
                    f"built from the audit trail up to event {head.get('events')}:{head.get('hash')}"
                    f" (check it on the database: compliance audit verify --expect {head.get('events')}:{head.get('hash')})"
                )
        else:
            say(f"{len(report.findings)} finding(s); {report.files_checked} files checked")
    sys.exit(0 if report.ok else 1)
