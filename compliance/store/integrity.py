"""What the audit chain says about the data: the content hash of an assessment's state, and the
check of every assessment, catalog file and guard against the events that recorded them.

The state of an assessment is its row and every row that belongs to it, found from the table
metadata (`compliance.store.models`): the tables whose foreign key points at the assessment
(safety scores, results, risk acceptances, the catalog versions it is pinned to) and, below
them, the tables pointing at those (evidence). A column added to one of these tables, or a table
added below them, is covered without a change here (except the tables in `EXCLUDED_TABLES`).

Canonical form, version `FORM` (`compliance-state/1`):

- one JSON object `{"form": FORM, "table": "assessments", "columns": {...}, "children": {...}}`;
  each child row is `{"columns": {...}, "children": {...}}`, listed under its table's name;
- left out: a row's own surrogate id (a one-column integer primary key that is not a foreign
  key) and the foreign key to the row it belongs to (the nesting says it); the columns in
  `EXCLUDED` (none today: every other column changes only through an event);
- a foreign key to a row outside the state is replaced by that row's stable key, under the
  column's name: a deployment by its key, a catalog file by its SHA-256, a check by
  `KEY@<SHA-256 of its checks file>`, a control by `FRAMEWORK/REF@<SHA-256 of its catalog>`;
- a NULL column is left out, and so is a child table with no rows, so that a nullable column
  or a table added later leaves the hash of existing states as it was;
- values: text, integers, booleans and floats as JSON; dates as `YYYY-MM-DD`; times in UTC as
  `YYYY-MM-DDTHH:MM:SS.ffffff`; JSON columns as their value; binary columns as `sha256:<hex>`;
- child rows are ordered by their `position` column where the table has one, then by their
  canonical JSON;
- serialized with sorted keys, no spaces, UTF-8 (`audit.canonical`); the state hash is the
  SHA-256 of that text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.orm import Session

from compliance.errors import Conflict
from compliance.store import audit, queries
from compliance.store.models import Assessment, Base

FORM = "compliance-state/1"
ROOT = "assessments"
# Columns left out of the canonical form besides surrogate ids and links to the parent row, by
# table. Only a column that legitimately changes without an event of its assessment belongs here.
EXCLUDED: dict[str, frozenset[str]] = {}
# Tables left out of the state altogether. The assessment file as imported is kept byte for
# byte beside its rows; its SHA-256 is in the detail of the `assessment.import` event that
# stored it (`document`), so it is checked against the chain, not hashed into the state (a
# database downgraded below the revision that added the table keeps states that still hold).
EXCLUDED_TABLES = frozenset({"assessment_documents"})
_CHUNK = 5_000


class StateError(RuntimeError):
    """The schema holds something the canonical form cannot express (a programming error)."""


def _surrogate(column: Column[Any]) -> bool:
    table = column.table
    return (
        column.primary_key
        and not column.foreign_keys
        and len(table.primary_key.columns) == 1
        and column.name == "id"
    )


def _parent_link(table: Table, owned: set[str]) -> Column[Any] | None:
    links = [c for c in table.columns for fk in c.foreign_keys if fk.column.table.name in owned]
    if len(links) > 1:
        raise StateError(
            f"table {table.name} points at more than one row of an assessment's state; "
            "integrity.py must say which one it belongs to"
        )
    return links[0] if links else None


def _plan() -> list[tuple[Table, Column[Any], Table]]:
    """(child table, its link column, parent table) for every table below the root, parents first."""
    tables = Base.metadata.tables
    owned = {ROOT}
    plan: list[tuple[Table, Column[Any], Table]] = []
    frontier = [tables[ROOT]]
    while frontier:
        parent = frontier.pop(0)
        for table in sorted(tables.values(), key=lambda t: t.name):
            if table.name in owned or table.name in EXCLUDED_TABLES:
                continue
            link = next(
                (
                    c
                    for c in table.columns
                    for fk in c.foreign_keys
                    if fk.column.table.name == parent.name
                ),
                None,
            )
            if link is None:
                continue
            owned.add(table.name)
            plan.append((table, link, parent))
            frontier.append(table)
    for table, _link, _parent in plan:
        _parent_link(table, owned)  # refuses a table owned twice
    return plan


def _plain(value: Any) -> Any:
    """A column value as the JSON value the canonical form holds."""
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    raise StateError(f"no canonical form for a value of type {type(value).__name__}")


def _in_chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


class _StableKeys:
    """Stable keys of the rows outside a state that its foreign keys point at, loaded once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[str, dict[int, str]] = {}

    def _load(self, table: str) -> dict[int, str]:
        t = Base.metadata.tables
        catalogs = t["catalogs"]
        rows: Iterable[tuple[Any, ...]]
        if table == "deployments":
            d = t["deployments"]
            rows = self.session.execute(select(d.c.id, d.c.key)).all()
        elif table == "catalogs":
            rows = self.session.execute(select(catalogs.c.id, catalogs.c.sha256)).all()
        elif table == "checks":
            c = t["checks"]
            rows = (
                (i, f"{key}@{sha}")
                for i, key, sha in self.session.execute(
                    select(c.c.id, c.c.key, catalogs.c.sha256).join(
                        catalogs, catalogs.c.id == c.c.catalog_id
                    )
                ).all()
            )
        elif table == "controls":
            c = t["controls"]
            rows = (
                (i, f"{fw}/{ref}@{sha}")
                for i, fw, ref, sha in self.session.execute(
                    select(c.c.id, catalogs.c.key, c.c.ref, catalogs.c.sha256).join(
                        catalogs, catalogs.c.id == c.c.catalog_id
                    )
                ).all()
            )
        else:
            raise StateError(
                f"no stable key for rows of table {table}: add one to integrity._StableKeys"
            )
        return {int(i): str(k) for i, k in rows}

    def key(self, table: str, value: int) -> str:
        found = self.cache.get(table)
        if found is None:
            found = self.cache[table] = self._load(table)
        try:
            return found[value]
        except KeyError:
            raise StateError(f"{table} row {value} does not exist") from None


def _columns(
    table: Table, row: dict[str, Any], link: str | None, keys: _StableKeys
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    excluded = EXCLUDED.get(table.name, frozenset())
    for column in table.columns:
        name = column.name
        if name == link or name in excluded or _surrogate(column):
            continue
        value = row[name]
        if value is None:
            continue
        if column.foreign_keys:
            target = next(iter(column.foreign_keys)).column.table.name
            value = keys.key(target, value)
        out[name] = _plain(value)
    return out


def _order(node: dict[str, Any]) -> tuple[int, str]:
    """Children by position where their table has one, then by their canonical JSON."""
    position = node["columns"].get("position")
    return (position if isinstance(position, int) else -1, audit.canonical(node))


def _sort_children(node: dict[str, Any]) -> None:
    children = node.get("children")
    if not children:
        node.pop("children", None)
        return
    for rows in children.values():
        for child in rows:
            _sort_children(child)
        rows.sort(key=_order)


def state_forms(session: Session, ids: Sequence[int] | None = None) -> dict[int, dict[str, Any]]:
    """The canonical form of each assessment's state (every assessment when `ids` is None)."""
    tables = Base.metadata.tables
    keys = _StableKeys(session)
    root = tables[ROOT]
    nodes: dict[str, dict[int, dict[str, Any]]] = {ROOT: {}}

    def rows(table: Table, column: Column[Any], wanted: Sequence[int] | None) -> Iterator[Any]:
        if wanted is None:
            yield from session.execute(select(table)).mappings()
            return
        for part in _in_chunks(sorted(set(wanted))):
            yield from session.execute(select(table).where(column.in_(part))).mappings()

    for row in rows(root, root.c.id, ids):
        nodes[ROOT][row["id"]] = {
            "form": FORM,
            "table": ROOT,
            "columns": _columns(root, dict(row), None, keys),
            "children": {},
        }
    for table, link, parent in _plan():
        parents = nodes.get(parent.name, {})
        if not parents:
            continue
        own = nodes.setdefault(table.name, {})
        wanted = None if ids is None and parent.name == ROOT else list(parents)
        for row in rows(table, link, wanted):
            owner = parents.get(row[link.name])
            if owner is None:
                continue
            node = {"columns": _columns(table, dict(row), link.name, keys), "children": {}}
            owner["children"].setdefault(table.name, []).append(node)
            if "id" in table.c and _surrogate(table.c["id"]):
                own[row["id"]] = node
    out = nodes[ROOT]
    for node in out.values():
        _sort_children(node)
    return out


def state_hash_of(form: dict[str, Any]) -> str:
    return hashlib.sha256(audit.canonical(form).encode("utf-8")).hexdigest()


def state_hashes(session: Session, ids: Sequence[int] | None = None) -> dict[int, str]:
    """The state hash of each assessment (every assessment when `ids` is None), from its rows."""
    return {aid: state_hash_of(form) for aid, form in state_forms(session, ids).items()}


# What the events recorded ---------------------------------------------------------------------


@dataclass
class Recorded:
    """What the audit events say of one assessment (`subject` is `DEPLOYMENT/ASSESSMENT`)."""

    subject: str
    last_event: int = 0
    last_action: str = ""
    state: str | None = None
    finalized_by_event: int | None = None
    changed_after_final: list[int] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.finalized_by_event is not None


def recorded_states(session: Session, subjects: Iterable[str] | None = None) -> dict[str, Recorded]:
    """For each assessment an event names: its last recorded state and whether it was finalized."""
    ev = Base.metadata.tables["audit_events"]
    query = (
        select(ev.c.id, ev.c.action, ev.c.subject, ev.c.detail)
        .where(ev.c.action.in_(audit.ASSESSMENT_ACTIONS))
        .order_by(ev.c.id)
    )
    found: dict[str, Recorded] = {}
    parts: list[Sequence[str] | None]
    if subjects is None:
        parts = [None]
    else:
        wanted = sorted(set(subjects))
        parts = [wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]
    for part in parts:
        q = query if part is None else query.where(ev.c.subject.in_(part))
        for eid, action, subject, detail in session.execute(q).all():
            rec = found.setdefault(subject, Recorded(subject))
            try:
                body = json.loads(detail)
            except ValueError:
                body = {}
            state = body.get("state") if isinstance(body, dict) else None
            if rec.final and action in audit.CHANGING_ACTIONS:
                rec.changed_after_final.append(eid)
            if action == "assessment.finalize":
                rec.finalized_by_event = eid
            rec.last_event, rec.last_action = eid, action
            if isinstance(state, str):
                rec.state = state
    return found


# The whole check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    kind: str  # changed, tampered, deleted, unrecorded, uncovered, catalog, guard, anchor, chain
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class IntegrityReport:
    chain: audit.ChainReport
    findings: list[Finding] = field(default_factory=list)
    assessments: int = 0
    finalized: int = 0
    catalogs: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.findings


def subjects_of(session: Session) -> dict[int, tuple[str, str]]:
    """(subject, state column) of every assessment, by id."""
    a, d = Base.metadata.tables["assessments"], Base.metadata.tables["deployments"]
    return {
        aid: (f"{dkey}/{akey}", state)
        for aid, dkey, akey, state in session.execute(
            select(a.c.id, d.c.key, a.c.key, a.c.state).join(d, d.c.id == a.c.deployment_id)
        ).all()
    }


def compare(current: str, rec: Recorded | None, final_row: bool) -> Finding | None:
    """Whether an assessment's rows, hashing to `current`, are what its events recorded."""
    if rec is None:
        return None  # the caller names it as unrecorded
    subject = rec.subject
    if rec.changed_after_final:
        events = ", ".join(f"#{e}" for e in rec.changed_after_final)
        return Finding(
            "tampered",
            subject,
            f"finalized by event #{rec.finalized_by_event}, then changed by event(s) {events}",
        )
    if rec.state is None:
        return Finding(
            "uncovered",
            subject,
            "no event records the content of its rows (recorded before content hashes); "
            "`compliance audit baseline` records their current state",
        )
    if rec.state == current:
        return None
    if rec.final or final_row:
        return Finding(
            "tampered",
            subject,
            f"finalized, yet its rows were changed: they hash to {current}, event "
            f"#{rec.last_event} ({rec.last_action}) recorded {rec.state}",
        )
    return Finding(
        "changed",
        subject,
        f"changed outside the tool: its rows hash to {current}, event #{rec.last_event} "
        f"({rec.last_action}) recorded {rec.state}",
    )


def _catalog_findings(session: Session) -> tuple[int, list[Finding]]:
    c = Base.metadata.tables["catalogs"]
    ev = Base.metadata.tables["audit_events"]
    loaded: set[str] = set()
    for (detail,) in session.execute(
        select(ev.c.detail).where(ev.c.action == "catalog.load")
    ).all():
        try:
            sha = json.loads(detail).get("sha256")
        except (ValueError, AttributeError):
            continue
        if isinstance(sha, str):
            loaded.add(sha)
    findings: list[Finding] = []
    count = 0
    for kind, key, sha, content in session.execute(
        select(c.c.kind, c.c.key, c.c.sha256, c.c.content).order_by(c.c.id)
    ).all():
        count += 1
        subject = f"catalog {kind}:{key}"
        actual = hashlib.sha256(bytes(content)).hexdigest()
        if actual != sha:
            findings.append(
                Finding("changed", subject, f"its file hashes to {actual}, its row says {sha}")
            )
        elif sha not in loaded:
            findings.append(Finding("unrecorded", subject, f"no catalog.load event for {sha}"))
    return count, findings


def check(session: Session, expect: audit.Anchor | None = None) -> IntegrityReport:
    """Verify the chain (and that it extends `expect`), every assessment against the state its
    events recorded, every catalog file against its hash, and the append-only guard."""
    report = IntegrityReport(audit.verify(session, expect))
    rows = subjects_of(session)
    hashes = state_hashes(session)
    recorded = recorded_states(session)
    seen: set[str] = set()
    for aid in sorted(rows):
        subject, state_column = rows[aid]
        seen.add(subject)
        report.assessments += 1
        rec = recorded.get(subject)
        if rec is not None and rec.final:
            report.finalized += 1
        if rec is None:
            report.findings.append(
                Finding(
                    "unrecorded",
                    subject,
                    "no event records this assessment: it was written outside the tool",
                )
            )
            continue
        finding = compare(hashes[aid], rec, state_column == "final")
        if finding is not None:
            report.findings.append(finding)
    for subject in sorted(set(recorded) - seen):
        rec = recorded[subject]
        report.findings.append(
            Finding(
                "deleted",
                subject,
                f"recorded by event #{rec.last_event} ({rec.last_action}), no longer in the database",
            )
        )
    report.catalogs, catalog_findings = _catalog_findings(session)
    report.findings.extend(catalog_findings)
    missing = audit.missing_guards(session)
    if missing:
        report.findings.append(
            Finding(
                "guard",
                "audit_events",
                "the triggers that reject UPDATE and DELETE are missing or disabled: "
                + ", ".join(missing)
                + " (run `compliance db upgrade`; someone with rights to change the schema removed them)",
            )
        )
    return report


def baseline(session: Session) -> list[str]:
    """Record the current state of every assessment whose events record no content (written
    before content hashes); return their subjects. Assessments with no event, or whose
    recorded state differs, are left alone: they stay findings."""
    rows = subjects_of(session)
    recorded = recorded_states(session)
    pending = [
        aid
        for aid, (subject, _state) in rows.items()
        if subject in recorded
        and recorded[subject].state is None
        and not recorded[subject].changed_after_final
    ]
    if not pending:
        return []
    hashes = state_hashes(session, pending)
    events = [
        (
            "assessment.baseline",
            rows[aid][0],
            {"state": hashes[aid], "state_form": FORM, "note": "state recorded as found"},
        )
        for aid in sorted(pending, key=lambda i: rows[i][0])
    ]
    audit.record_many(session, events)
    return [subject for _a, subject, _d in events]


def finalize(session: Session, deployment: str, assessment_key: str) -> Assessment:
    """Seal an assessment and record the state it is sealed in. Refused when it is final
    already, or when its rows are not the state its events recorded (sealing would bless a
    change made outside the tool)."""
    dep = queries.deployment(session, deployment)
    a = queries.assessment(session, dep, assessment_key)
    subject = f"{deployment}/{assessment_key}"
    rec = recorded_states(session, [subject]).get(subject)
    if a.state == "final" or (rec is not None and rec.final):
        raise Conflict(f"assessment {assessment_key} of {deployment} is already finalized")
    current = state_hashes(session, [a.id])[a.id]
    finding = (
        compare(current, rec, False)
        if rec is not None
        else Finding("unrecorded", subject, "no event records this assessment")
    )
    if finding is not None and finding.kind != "uncovered":
        raise Conflict(
            f"assessment {assessment_key} of {deployment} cannot be finalized: {finding.detail}; "
            "re-import its file to restore it first"
        )
    a.state = "final"
    a.finalized_at = datetime.now(UTC)
    a.finalized_by = audit.actor()
    session.flush()
    state = state_hashes(session, [a.id])[a.id]
    audit.record(
        session,
        "assessment.finalize",
        subject,
        {"fingerprint": a.fingerprint, "state": state, "state_form": FORM},
    )
    return a
