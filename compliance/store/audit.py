"""Append-only audit history with a hash chain: each event commits to the one before it."""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from compliance import limits
from compliance.errors import ComplianceError
from compliance.store.models import AuditEvent

GENESIS = "0" * 64
# Events about one assessment (subject `DEPLOYMENT/ASSESSMENT`); those that change its data carry
# `state`, the content hash of the state it left (compliance.store.integrity).
ASSESSMENT_ACTIONS = ("assessment.import", "assessment.finalize", "assessment.baseline")
CHANGING_ACTIONS = frozenset({"assessment.import", "assessment.finalize"})
# Events about the portal's accounts and its readers (compliance/web): who signed in, who failed
# to, who downloaded what, who was given an account or a token. They change no assessment data.
PORTAL_ACTIONS = frozenset(
    {
        "portal.sign_in",
        "portal.sign_in_failed",
        "portal.sign_in_throttled",
        "portal.sign_out",
        "portal.download",
        "user.add",
        "user.disable",
        "user.token",
    }
)
# Events that change no data: the data head (what a pack was built from) skips them.
NON_DATA_ACTIONS = frozenset({"pack.build"}) | PORTAL_ACTIONS
# The triggers migration 0003 installs so that the table only grows (see missing_guards).
SQLITE_GUARDS = ("audit_events_no_update", "audit_events_no_delete")
POSTGRESQL_GUARDS = ("audit_events_append_only", "audit_events_no_truncate")
POSTGRESQL_GUARD_FUNCTION = "audit_events_reject_change"


_ACTING_AS: ContextVar[str | None] = ContextVar("compliance_acting_as", default=None)


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record the events written inside the block as done by `name` (a portal user), whatever
    $COMPLIANCE_ACTOR says; checked like it."""
    token = _ACTING_AS.set(limits.checked_name(name, "actor", "audit_events", "actor"))
    try:
        yield
    finally:
        _ACTING_AS.reset(token)


def actor() -> str:
    """Who is acting: the portal user of `acting_as`, else $COMPLIANCE_ACTOR, else the
    operating-system user.

    The name must fit the audit trail's actor column and hold no control character (a CR
    or an escape sequence would forge or hide `audit log` lines): InvalidInput otherwise.
    """
    acting = _ACTING_AS.get()
    if acting is not None:
        return acting
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
class Anchor:
    """A point of the chain written down elsewhere: its first `events` events end in `hash`."""

    events: int
    hash: str

    @classmethod
    def parse(cls, value: str) -> Anchor:
        """`N:SHA256`, as `compliance audit verify` prints it."""
        count, _, digest = value.strip().partition(":")
        digest = digest.lower()
        if not count.isdigit() or int(count) < 1 or len(digest) != 64:
            raise ComplianceError(
                f"an anchor is N:SHA256 (N events, the hash of the Nth), not {value!r}"
            )
        if any(ch not in "0123456789abcdef" for ch in digest):
            raise ComplianceError(
                f"an anchor is N:SHA256 (N events, the hash of the Nth), not {value!r}"
            )
        return cls(int(count), digest)

    def __str__(self) -> str:
        return f"{self.events}:{self.hash}"


@dataclass(frozen=True)
class ChainReport:
    events: int
    broken_at: int | None
    reason: str | None
    head: str | None = None  # hash of the last event (GENESIS-free: None when there is none)
    data_head: Anchor | None = None  # the last event that changed data
    anchor_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.anchor_problem is None


def verify(session: Session, expect: Anchor | None = None) -> ChainReport:
    """Walk the chain in order; name the first event whose hash or link does not hold, and
    check that the chain extends `expect` (its event number `expect.events` has that hash)."""
    prev_hash = GENESIS
    count = 0
    data_head: Anchor | None = None
    anchor_problem: str | None = None
    anchor_seen = False
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for ev in rows:
        count += 1
        if ev.prev_hash != prev_hash:
            reason = "its link to the previous event does not match"
        elif (
            event_hash(ev.prev_hash, ev.occurred_at, ev.actor, ev.action, ev.subject, ev.detail)
            != ev.hash
        ):
            reason = "its content does not match its hash"
        else:
            reason = None
        if reason is not None:
            if expect is not None and not anchor_seen:
                anchor_problem = f"the chain breaks at event #{ev.id}, before it reaches the anchor's event {expect.events}"
            return ChainReport(count, ev.id, reason, None, data_head, anchor_problem)
        if expect is not None and count == expect.events:
            anchor_seen = True
            if ev.hash != expect.hash:
                anchor_problem = (
                    f"event {count} (#{ev.id}) has hash {ev.hash}, the anchor says {expect.hash}: "
                    "the history up to the anchor was rewritten"
                )
        if ev.action not in NON_DATA_ACTIONS:
            data_head = Anchor(count, ev.hash)
        prev_hash = ev.hash
    if expect is not None and not anchor_seen:
        anchor_problem = (
            f"the chain has {count} events, fewer than the anchor's {expect.events}: "
            "events were deleted"
        )
    return ChainReport(count, None, None, prev_hash if count else None, data_head, anchor_problem)


def data_head(session: Session) -> Anchor | None:
    """The last event that changed data (every event but a pack's), with its number in the chain."""
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash)
        .where(AuditEvent.action.not_in(NON_DATA_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one_or_none()
    if last is None:
        return None
    count = session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= last.id)
    ).scalar_one()
    return Anchor(count, last.hash)


def missing_guards(session: Session) -> list[str]:
    """The append-only triggers of the audit table that are missing or disabled (none: all in place)."""
    dialect = session.get_bind().dialect.name
    found: dict[str, str]
    if dialect == "sqlite":
        found = {
            str(name): str(value)
            for name, value in session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
                )
            ).all()
        }
        return [n for n in SQLITE_GUARDS if "RAISE(ABORT" not in (found.get(n) or "").upper()]
    if dialect == "postgresql":
        found = {
            str(name): str(value)
            for name, value in session.execute(
                text(
                    "SELECT t.tgname, t.tgenabled FROM pg_trigger t"
                    " JOIN pg_class c ON c.oid = t.tgrelid"
                    " JOIN pg_proc p ON p.oid = t.tgfoid"
                    " WHERE c.relname = 'audit_events' AND c.relnamespace = to_regnamespace(current_schema())"
                    " AND NOT t.tgisinternal AND p.proname = :fn AND p.prosrc LIKE '%RAISE EXCEPTION%'"
                ),
                {"fn": POSTGRESQL_GUARD_FUNCTION},
            ).all()
        }
        # 'O' and 'A' fire in normal sessions; 'D' is disabled and 'R' fires only for replicas.
        return [n for n in POSTGRESQL_GUARDS if str(found.get(n)) not in ("O", "A")]
    return []
