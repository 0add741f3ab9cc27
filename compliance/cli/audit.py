"""`compliance audit`: the tamper-evident history of every change."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.store import audit as audit_store
from compliance.store import integrity
from compliance.store.models import AuditEvent


@click.group()
def audit() -> None:
    """Show and verify the append-only audit history."""


@audit.command()
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N events (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def log(app: AppContext, limit: int, as_json: bool) -> None:
    """Show the audit events, newest first: who did what, when, with each event's hash.

    \b
    Example:
      compliance audit log --limit 20
    """
    with app.read_session(sync=False) as session:
        q = select(AuditEvent).order_by(AuditEvent.id.desc())
        if limit > 0:
            q = q.limit(limit)
        events = session.execute(q).scalars().all()
    rows = [
        dict(
            id=e.id,
            at=e.occurred_at.isoformat(),
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            detail=json.loads(e.detail),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in events
    ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        say(
            f"#{r['id']:<5} {r['at'][:19]}  {r['actor']:<20} {r['action']:<20} {r['subject']}  {r['hash'][:12]}"
        )
        d = r["detail"]
        if r["action"] == "pack.build" and isinstance(d, dict):
            head = d.get("data_head") or {}
            say(
                f"       SHA256SUMS {d.get('sha256sums')}  built from data head "
                f"{head.get('events')}:{head.get('hash')}"
                + (f"  signed by {d['signed_by']}" if d.get("signed_by") else "")
            )


@audit.command()
@click.option(
    "--expect",
    "anchor",
    metavar="N:SHA256",
    help="Fail unless the chain extends this anchor: its Nth event has this hash "
    "(as an earlier `audit verify` printed it, or a pack's VERIFY.txt).",
)
@pass_app
@handle_errors
def verify(app: AppContext, anchor: str | None) -> None:
    """Check the whole record: walk the hash chain from the first event; recompute every
    assessment's content hash from its rows and compare it with the state its last event
    recorded; check every catalog file against its hash and that the append-only triggers are in
    place. Names every finding; exits 1 on any.

    Prints `N events, head SHA256`: write it down, and a later `audit verify --expect N:SHA256`
    fails if any of those N events was deleted or rewritten, even by someone who recomputed the
    chain.

    \b
    Examples:
      compliance audit verify
      compliance audit verify --expect 57:3f5c...e2
    """
    expect = audit_store.Anchor.parse(anchor) if anchor else None
    with app.read_session(sync=False) as session:
        report = integrity.check(session, expect)
    chain = report.chain
    for f in report.findings:
        say(str(f), fg="red")
    if chain.anchor_problem:
        say(f"anchor {expect}: {chain.anchor_problem}", fg="red")
    if not chain.ok and chain.broken_at is not None:
        say(f"BROKEN at event #{chain.broken_at}: {chain.reason}", fg="red")
        say(
            f"{chain.events - 1} events before it verify; the history from #{chain.broken_at} on cannot be trusted"
        )
        sys.exit(1)
    head = f"{chain.events} events, head {chain.head or audit_store.GENESIS}"
    data = (
        f"data head {chain.data_head.events}:{chain.data_head.hash}"
        if chain.data_head
        else "no data recorded"
    )
    summary = (
        f"{report.assessments} assessments as their events recorded them "
        f"({report.finalized} finalized), {report.catalogs} catalog files intact, "
        "append-only triggers in place"
    )
    if report.ok:
        say(f"OK: {head}, chain intact", fg="green")
        say(f"{data}; {summary}")
        if expect is not None:
            say(f"extends the anchor {expect}")
        return
    say(f"FAILED: {len(report.findings) + bool(chain.anchor_problem)} finding(s); {head}")
    sys.exit(1)


@audit.command()
@pass_app
@handle_errors
def baseline(app: AppContext) -> None:
    """Record the current content hash of every assessment whose events predate content hashes
    (imported by an older version), so that `audit verify` covers it from now on. It trusts the
    rows as they are: run it right after upgrading, before anyone else can write.

    \b
    Example:
      compliance audit baseline
    """
    with app.session(sync=False) as session:
        subjects = integrity.baseline(session)
    for s in subjects:
        say(f"baseline   {s}")
    say(f"{len(subjects)} assessment(s) recorded as found")
