"""Append-only audit history with a hash chain: each event commits to the one before it."""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from compliance import limits
from compliance.store.models import AuditEvent

GENESIS = "0" * 64


def actor() -> str:
    """Who is acting: $COMPLIANCE_ACTOR, else the operating-system user.

    The name must fit the audit trail's actor column and hold no control character (a CR
    or an escape sequence would forge or hide `audit log` lines): InvalidInput otherwise.
    """
    name = os.environ.get("COMPLIANCE_ACTOR")
    if name:
        return limits.checked_name(name, "COMPLIANCE_ACTOR", "audit_events", "actor")
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(
    prev_hash: str, occurred_at: datetime, who: str, action: str, subject: str, detail: str
) -> str:
    # SQLite hands back naive UTC datetimes, PostgreSQL aware ones: hash the same instant either way.
    if occurred_at.tzinfo is not None:
        occurred_at = occurred_at.astimezone(UTC).replace(tzinfo=None)
    stamp = occurred_at.isoformat(timespec="microseconds")
    payload = canonical([prev_hash, stamp, who, action, subject, detail])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    # Two writers must not both extend the same tail of the chain. store.db.transaction takes
    # this lock already; taking it again here keeps the guarantee for any other caller.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7243001)"))


def record(
    session: Session, action: str, subject: str, detail: dict[str, Any] | None = None
) -> None:
    """Append one event in the caller's transaction."""
    record_many(session, [(action, subject, detail or {})])


def record_many(session: Session, events: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Append several events, in order, with one bulk insert."""
    if not events:
        return
    _lock_chain(session)
    prev_hash = (
        session.execute(
            select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        ).scalar_one_or_none()
        or GENESIS
    )
    now = datetime.now(UTC)
    who = actor()
    rows = []
    for action, subject, detail in events:
        limits.require_fit("audit_events", {"action": action, "subject": subject}, "audit event")
        body = canonical(detail)
        digest = event_hash(prev_hash, now, who, action, subject, body)
        rows.append(
            dict(
                occurred_at=now,
                actor=who,
                action=action,
                subject=subject,
                detail=body,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    ids = (
        session.execute(
            insert(AuditEvent).returning(AuditEvent.id, sort_by_parameter_order=True), rows
        )
        .scalars()
        .all()
    )
    # The chain is read back in id order, so ids must follow the order the events were chained in.
    if any(b <= a for a, b in itertools.pairwise(ids)):
        raise RuntimeError("audit events were not numbered in the order they were chained")


@dataclass(frozen=True)
class ChainReport:
    events: int
    broken_at: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session) -> ChainReport:
    """Walk the chain in order; name the first event whose hash or link does not hold."""
    prev_hash = GENESIS
    count = 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for ev in rows:
        count += 1
        if ev.prev_hash != prev_hash:
            return ChainReport(count, ev.id, "its link to the previous event does not match")
        expected = event_hash(
            ev.prev_hash, ev.occurred_at, ev.actor, ev.action, ev.subject, ev.detail
        )
        if expected != ev.hash:
            return ChainReport(count, ev.id, "its content does not match its hash")
        prev_hash = ev.hash
    return ChainReport(count, None, None)
