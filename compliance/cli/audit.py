"""`compliance audit`: the tamper-evident history of every change."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.store import audit as audit_store
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


@audit.command()
@pass_app
@handle_errors
def verify(app: AppContext) -> None:
    """Walk the hash chain from the first event; name the first event that does not hold.

    \b
    Example:
      compliance audit verify
    """
    with app.read_session(sync=False) as session:
        report = audit_store.verify(session)
    if report.ok:
        say(f"OK: {report.events} events, chain intact", fg="green")
        return
    say(f"BROKEN at event #{report.broken_at}: {report.reason}", fg="red")
    say(
        f"{report.events - 1} events before it verify; the history from #{report.broken_at} on cannot be trusted"
    )
    sys.exit(1)
