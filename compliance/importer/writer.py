"""Writing a validated batch of assessments: set-based, one bulk statement per table.

The batch is classified first (new, replacing a draft, unchanged) with one query per table.
New rows get their ids before they are written, so that the rows pointing at them can be built
without reading anything back, and each table is then written in one pass: one `executemany`
on SQLite, one COPY on PostgreSQL. The cost grows with the number of rows, not with the number
of round trips, and no per-row SQL is compiled.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from compliance import limits
from compliance.errors import ComplianceError, Problem
from compliance.evidence import EvidenceStore
from compliance.store import audit, db, integrity
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    AssessmentDocument,
    Base,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
    SafetyScore,
)

if TYPE_CHECKING:
    from compliance.importer.core import ImportReport, Prepared, PreparedEvidence, _References
    from compliance.importer.schema import ResultIn

# Core tables: plain rows, without the ORM's unit-of-work machinery.
DEPLOYMENTS = Base.metadata.tables["deployments"]
ASSESSMENTS = Base.metadata.tables["assessments"]
ASSESSMENT_CATALOGS = Base.metadata.tables["assessment_catalogs"]
SAFETY_SCORES = Base.metadata.tables["safety_scores"]
RISK_ACCEPTANCES = Base.metadata.tables["risk_acceptances"]
RESULTS = Base.metadata.tables["results"]
EVIDENCE = Base.metadata.tables["evidence"]
ASSESSMENT_DOCUMENTS = Base.metadata.tables["assessment_documents"]
CHUNK = 5_000  # rows per IN list or batch of UPDATEs, within every backend's parameter limits
T = TypeVar("T")

DEPLOYMENT_COLUMNS = (
    "id",
    "key",
    "name",
    "owner",
    "environment",
    "business_process",
    "created_at",
    "updated_at",
)
PROFILE_COLUMNS = (
    "model_name",
    "model_version",
    "workload_identity",
    "credentials",
    "tools",
    "data_classes",
    "authority",
    "autonomy",
    "customer_facing",
    "audit_logging",
    "memory",
    "agents",
    "profile",
)
ASSESSMENT_COLUMNS = (
    "id",
    "deployment_id",
    "key",
    "state",
    "assessed_on",
    "assessor",
    "source_name",
    "fingerprint",
    "imported_at",
    *PROFILE_COLUMNS,
)
RESULT_COLUMNS = (
    "id",
    "assessment_id",
    "check_id",
    "control_id",
    "status",
    "notes",
    "position",
    "method",
    "tested_by",
    "tested_on",
    "population",
    "sample_size",
    "sample_selection",
    "exceptions",
    "remediation_owner",
    "remediation_due",
)
SAFETY_SCORE_COLUMNS = ("assessment_id", "benchmark", "version", "score")
EVIDENCE_COLUMNS = (
    "result_id",
    "position",
    "kind",
    "file_name",
    "sha256",
    "size",
    "media_type",
    "url",
    "description",
    "collected_on",
    "received_at",
    "snapshot_name",
    "snapshot_sha256",
    "snapshot_size",
    "snapshot_media_type",
)
ACCEPTANCE_COLUMNS = (
    "assessment_id",
    "check_id",
    "approved_by",
    "justification",
    "expires",
    "position",
    "approved_on",
    "approver_role",
    "compensating_controls",
)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _BulkRows:
    """Inserts plain rows (tuples) on the session's connection, inside its transaction.

    Values are converted by the same SQLAlchemy type processors that an `insert()` would use
    (dates, times, JSON, booleans), so the stored values are the same; only the per-row
    statement machinery is skipped. Database errors are raised as SQLAlchemy's, like any other
    statement's, so that callers recognise them (and retry the transient ones).
    """

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.postgresql = self.dialect.name == "postgresql"
        if self.postgresql:
            # The writers' lock (store.db.transaction takes it already; this keeps the guarantee
            # for any other caller): while it is held, no other writer takes ids (new_ids).
            self.connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": db.WRITER_LOCK_KEY}
            )

    def new_ids(self, table: Table, count: int) -> range:
        """`count` unused ids for new rows of `table`, ascending."""
        if count == 0:
            return range(0)
        if self.postgresql:
            # A block taken from the table's own sequence at once, as `count` calls of nextval()
            # would: its next value is moved past the block. Two writers cannot interleave here,
            # as both hold the writers' lock.
            last = self.connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, 'id'),"
                    " nextval(pg_get_serial_sequence(:table, 'id')) + :count - 1)"
                ),
                {"table": table.name, "count": count},
            ).scalar_one()
            return range(last - count + 1, last + 1)
        # SQLite hands out max(id) + 1 itself. The transaction holds the database's write lock
        # (BEGIN IMMEDIATE, see store.db), so nobody else can add rows until it ends.
        start = (self.connection.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        return range(start, start + count)

    def insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert `rows`, values in the order of `columns`."""
        if not rows:
            return
        converters = self._converters(table, columns)
        if converters:
            rows = [_convert(row, converters) for row in rows]
        # Names come from the schema (the Table objects), never from input; quoted anyway.
        quote = self.dialect.identifier_preparer
        target = f"{quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)})"
        if self.postgresql:
            self._copy(f"COPY {target} FROM STDIN", rows)
        else:
            marks = ", ".join("?" * len(columns))
            self.connection.exec_driver_sql(f"INSERT INTO {target} VALUES ({marks})", rows)  # noqa: S608

    def _converters(
        self, table: Table, columns: Sequence[str]
    ) -> list[tuple[int, Callable[[Any], Any]]]:
        found: list[tuple[int, Callable[[Any], Any]]] = []
        for i, name in enumerate(columns):
            column_type = table.c[name].type
            process = column_type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if process is not None:
                found.append((i, process))
        return found

    def _copy(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        driver = self.connection.connection.driver_connection
        assert driver is not None
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                statement, None, exc, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from exc


def _convert(
    row: tuple[Any, ...], converters: list[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for i, process in converters:
        values[i] = process(values[i])
    return tuple(values)


@dataclass
class _Existing:
    id: int
    state: str
    fingerprint: str


def _profile_values(p: Prepared) -> tuple[Any, ...]:
    """The profile snapshot columns (PROFILE_COLUMNS) of an assessment."""
    d = p.doc.deployment
    profile = p.profile  # the deployment block as JSON values
    return (
        d.model.name,
        d.model.version,
        d.identity.workload_identity if d.identity else None,
        d.identity.credentials if d.identity else None,
        profile["tools"],
        profile["data"],
        profile["authority"],
        d.autonomy,
        d.customer_facing,
        d.audit.logging if d.audit else None,
        d.memory,
        profile.get("agents"),
        profile,
    )


def _deployment_values(dep_id: int, p: Prepared, now: datetime | None) -> tuple[Any, ...]:
    """A deployments row (DEPLOYMENT_COLUMNS) as an assessment describes the deployment."""
    d = p.doc.deployment
    return (dep_id, d.id, d.name, d.owner, d.environment, d.business_process, now, now)


def _assessment_values(aid: int, dep_id: int, p: Prepared, now: datetime | None) -> tuple[Any, ...]:
    """An assessments row (ASSESSMENT_COLUMNS) of a new assessment."""
    a = p.doc.assessment
    return (
        aid,
        dep_id,
        a.id,
        "draft",
        a.date,
        a.assessor,
        p.label,
        p.fingerprint,
        now,
        *_profile_values(p),
    )


def _safety_score_rows(aid: int, p: Prepared) -> list[tuple[Any, ...]]:
    return [(aid, s.benchmark, s.version, s.score) for s in p.doc.deployment.model.safety_scores]


def _acceptance_rows(aid: int, p: Prepared, checks: Mapping[str, int]) -> list[tuple[Any, ...]]:
    """Rows of ACCEPTANCE_COLUMNS."""
    return [
        (
            aid,
            checks.get(x.check),
            x.approved_by,
            x.justification,
            x.expires,
            i,
            x.approved_on,
            x.approver_role,
            x.compensating_controls,
        )
        for i, x in enumerate(p.doc.assessment.acceptances)
    ]


def _result_values(
    rid: int, aid: int, i: int, r: ResultIn, refs: _References | None
) -> tuple[Any, ...]:
    """A row of RESULT_COLUMNS."""
    check = refs.checks[r.check] if refs and r.check else None
    control = refs.controls[r.control][0] if refs and r.control else None
    return (
        rid,
        aid,
        check,
        control,
        r.status,
        r.notes,
        i,
        list(r.method) if r.method else None,
        r.tested_by,
        r.tested_on,
        r.population,
        r.sample.size if r.sample else None,
        r.sample.selection if r.sample else None,
        r.exceptions,
        r.remediation.owner if r.remediation else None,
        r.remediation.due if r.remediation else None,
    )


def _evidence_values(rid: int, pos: int, e: PreparedEvidence, now: datetime) -> tuple[Any, ...]:
    """A row of EVIDENCE_COLUMNS: the collection date as stated (None: not stated), and when
    the tool received the file naming it."""
    d, snap = e.digest, e.snapshot
    return (
        rid,
        pos,
        e.kind,
        e.file_name,
        d.sha256 if d else None,
        d.size if d else None,
        d.media_type if d else None,
        e.url,
        e.description,
        e.collected,
        now,
        e.snapshot_name,
        snap.sha256 if snap else None,
        snap.size if snap else None,
        snap.media_type if snap else None,
    )


# Where a column's value is in an assessment file, when not at `PREFIX.column`.
PLACES: dict[str, dict[str, str]] = {
    "deployments": {"key": "deployment.id"},
    "assessments": {
        "key": "assessment.id",
        "assessor": "assessment.assessor",
        "source_name": "",  # the file's own path
        "model_name": "deployment.model.name",
        "model_version": "deployment.model.version",
        "workload_identity": "deployment.identity.workload_identity",
        "credentials": "deployment.identity.credentials",
        "audit_logging": "deployment.audit.logging",
    },
    "evidence": {"file_name": "file", "snapshot_name": "snapshot"},
    "results": {
        "sample_selection": "sample.selection",
        "remediation_owner": "remediation.owner",
    },
    "risk_acceptances": {},
}


def limit_problems(batch: Sequence[Prepared]) -> list[Problem]:
    """Every value the batch would write that is longer than its column allows (see
    `compliance.limits`), with its file and place. Run before anything is written, on every
    backend: SQLite would store the value and PostgreSQL refuse it with a raw database error.

    The rows checked are built by the same functions as the rows written, so a column added to
    one of the *_COLUMNS lists and its row function is checked with no more code.
    """
    found: list[Problem] = []

    def report(over: list[limits.Over], file: str, table: str, prefix: str) -> None:
        for column, limit, length in over:
            named = PLACES.get(table, {}).get(column)
            if table in ("deployments", "assessments"):  # places of their own, or `prefix.column`
                place = f"{prefix}.{column}" if named is None else named
            else:
                place = f"{prefix}.{named or column}"
            text = limits.message(limit, length)
            found.append(Problem(file, place, text if place else f"its path is too long: {text}"))

    deployment = limits.checker(DEPLOYMENTS, DEPLOYMENT_COLUMNS)
    assessment = limits.checker(ASSESSMENTS, ASSESSMENT_COLUMNS)
    score = limits.checker(SAFETY_SCORES, SAFETY_SCORE_COLUMNS)
    acceptance = limits.checker(RISK_ACCEPTANCES, ACCEPTANCE_COLUMNS)
    result = limits.checker(RESULTS, RESULT_COLUMNS)
    evidence = limits.checker(EVIDENCE, EVIDENCE_COLUMNS)
    now = datetime.now(UTC)
    for p in batch:
        label = p.label
        report(deployment(_deployment_values(0, p, now)), label, "deployments", "deployment")
        report(assessment(_assessment_values(0, 0, p, now)), label, "assessments", "deployment")
        for k, row in enumerate(_safety_score_rows(0, p)):
            report(score(row), label, "safety_scores", f"deployment.model.safety_scores[{k}]")
        for i, row in enumerate(_acceptance_rows(0, p, {})):
            report(acceptance(row), label, "risk_acceptances", f"assessment.acceptances[{i}]")
        for i, (r, items) in enumerate(zip(p.doc.assessment.results, p.evidence, strict=True)):
            at = f"assessment.results[{i}]"
            report(result(_result_values(0, 0, i, r, None)), label, "results", at)
            for j, e in enumerate(items):
                row = _evidence_values(0, j, e, now)
                report(evidence(row), label, "evidence", f"{at}.evidence[{j}]")
    return found


def _newest(batch: Iterable[Prepared]) -> dict[str, Prepared]:
    """The most recent assessment of each deployment (the later file when two share a date)."""
    newest: dict[str, Prepared] = {}
    for p in batch:
        key = p.doc.deployment.id
        best = newest.get(key)
        if best is None or p.doc.assessment.date >= best.doc.assessment.date:
            newest[key] = p
    return newest


def _deployments(
    session: Session, rows: _BulkRows, batch: Sequence[Prepared], now: datetime
) -> tuple[dict[str, int], set[int]]:
    """Ids of every deployment in the batch, and which of them were created now.

    A new deployment is created as its most recent assessment in the batch describes it, which
    is what the refresh after writing would make of it.
    """
    keys = sorted({p.doc.deployment.id for p in batch})
    ids: dict[str, int] = {}
    for part in chunks(keys):
        ids.update(
            session.execute(
                select(Deployment.key, Deployment.id).where(Deployment.key.in_(part))
            ).all()
        )
    newest = _newest(batch)
    new = [k for k in keys if k not in ids]
    new_ids = rows.new_ids(DEPLOYMENTS, len(new))
    values = []
    for key, dep_id in zip(new, new_ids, strict=True):
        values.append(_deployment_values(dep_id, newest[key], now))
    rows.insert(DEPLOYMENTS, DEPLOYMENT_COLUMNS, values)
    ids.update(zip(new, new_ids, strict=True))
    return ids, set(new_ids)


def _existing(
    session: Session, dep_ids: Iterable[int]
) -> tuple[dict[tuple[int, str], _Existing], dict[int, list[tuple[str, date]]]]:
    found: dict[tuple[int, str], _Existing] = {}
    dates: dict[int, list[tuple[str, date]]] = {}
    for part in chunks(sorted(set(dep_ids))):
        for dep_id, key, aid, state, fp, on in session.execute(
            select(
                Assessment.deployment_id,
                Assessment.key,
                Assessment.id,
                Assessment.state,
                Assessment.fingerprint,
                Assessment.assessed_on,
            ).where(Assessment.deployment_id.in_(part))
        ).all():
            found[(dep_id, key)] = _Existing(aid, state, fp)
            dates.setdefault(dep_id, []).append((key, on))
    return found, dates


def _refresh_deployments(
    session: Session,
    written: Sequence[Prepared],
    dep_ids: dict[str, int],
    created: set[int],
    dates: dict[int, list[tuple[str, date]]],
    now: datetime,
) -> None:
    """The deployment record follows its most recent assessment (new ones already do)."""
    rows = []
    for key, p in _newest(written).items():
        dep = dep_ids[key]
        if dep in created:
            continue
        others = [on for akey, on in dates.get(dep, []) if akey != p.doc.assessment.id]
        if others and max(others) > p.doc.assessment.date:
            continue
        d = p.doc.deployment
        rows.append(
            dict(
                b_id=dep,
                name=d.name,
                owner=d.owner,
                environment=d.environment,
                business_process=d.business_process,
                updated_at=now,
            )
        )
    for part in chunks(rows):
        session.execute(
            update(DEPLOYMENTS).where(DEPLOYMENTS.c.id == bindparam("b_id")),
            list(part),
        )


def _delete_children(session: Session, assessment_ids: Sequence[int]) -> None:
    for part in chunks(assessment_ids):
        result_ids = select(Result.id).where(Result.assessment_id.in_(part))
        session.execute(delete(Evidence).where(Evidence.result_id.in_(result_ids)))
        for model in (Result, RiskAcceptance, SafetyScore, AssessmentCatalog, AssessmentDocument):
            session.execute(delete(model).where(model.assessment_id.in_(part)))


def _subject(p: Prepared) -> str:
    return f"{p.doc.deployment.id}/{p.doc.assessment.id}"


def _tampered_final(p: Prepared, current: str, rec: integrity.Recorded | None) -> ComplianceError:
    recorded = rec.state if rec is not None else None
    return ComplianceError(
        f"assessment {p.doc.assessment.id} of deployment {p.doc.deployment.id} is finalized and "
        f"its rows were changed outside the tool (they hash to {current}, the audit trail "
        f"recorded {recorded}): it is tampered. Nothing was written; its rows are kept as they "
        "are, as evidence (`compliance audit verify` names it)"
    )


def _restore_blobs(store: EvidenceStore, batch: Iterable[Prepared]) -> int:
    """Put back the evidence files of unchanged assessments whose copies in the store are gone
    or altered; return how many were written."""
    written = 0
    for p in batch:
        for items in p.evidence:
            for e in items:
                for path, blob in ((e.path, e.digest), (e.snapshot_path, e.snapshot)):
                    if blob is not None and path is not None and store.put(path, blob, sync=False):
                        written += 1
    return written


def write_batch(
    session: Session,
    store: EvidenceStore,
    batch: Sequence[Prepared],
    refs: _References,
    report: ImportReport,
) -> None:
    """Write every prepared assessment in the caller's transaction.

    An existing assessment whose rows no longer hash to the state its last event recorded was
    changed outside the tool: a draft is rewritten from the file (reported as restored, and the
    event keeps the hash that was found); a finalized one makes the whole import fail, naming it.
    """
    now = datetime.now(UTC)
    rows = _BulkRows(session)
    dep_ids, created = _deployments(session, rows, batch, now)
    existing, dates = _existing(session, dep_ids.values())
    found_of = {
        id(p): existing.get((dep_ids[p.doc.deployment.id], p.doc.assessment.id)) for p in batch
    }
    known = [f.id for f in found_of.values() if f is not None]
    current = integrity.state_hashes(session, known) if known else {}
    recorded = (
        integrity.recorded_states(session, [_subject(p) for p in batch if found_of[id(p)]])
        if known
        else {}
    )
    new: list[Prepared] = []
    replaced: list[tuple[Prepared, _Existing]] = []
    unchanged: list[Prepared] = []
    found_changed: dict[int, str] = {}  # id(prepared) -> hash of rows changed outside the tool
    for p in batch:
        found = found_of[id(p)]
        if found is None:
            new.append(p)
            report.imported.append(p.label)
            continue
        rec = recorded.get(_subject(p))
        now_hash = current[found.id]
        outside = rec is not None and (
            (rec.state is not None and rec.state != now_hash) or bool(rec.changed_after_final)
        )
        # The events say whether it was finalized; the row's state column is only a copy.
        final = rec.final if rec is not None else found.state == "final"
        if final:
            if outside or found.state != "final":
                raise _tampered_final(p, now_hash, rec)
            # A changed file of a finalized assessment is refused in prepare(); this check is kept so
            # that the library never alters one.
            if found.fingerprint != p.fingerprint:
                raise ComplianceError(
                    f"assessment {p.doc.assessment.id} of deployment {p.doc.deployment.id} is finalized"
                )
            unchanged.append(p)
            report.unchanged.append(p.label)
        elif found.fingerprint == p.fingerprint and not outside:
            unchanged.append(p)
            report.unchanged.append(p.label)
        else:
            if outside:
                found_changed[id(p)] = now_hash
            replaced.append((p, found))
            if found.fingerprint == p.fingerprint:
                report.restored.append(p.label)
            else:
                report.replaced.append(p.label)
    report.evidence_restored += _restore_blobs(store, unchanged)
    if report.evidence_restored:
        os.sync()
    written = new + [p for p, _ in replaced]
    if not written:
        return
    _refresh_deployments(session, written, dep_ids, created, dates, now)

    assessment_ids: dict[int, int] = {}  # id(prepared) -> assessment id
    if replaced:
        _delete_children(session, [found.id for _p, found in replaced])
        updates = [
            dict(
                zip(PROFILE_COLUMNS, _profile_values(p), strict=True),
                b_id=found.id,
                assessed_on=p.doc.assessment.date,
                assessor=p.doc.assessment.assessor,
                source_name=p.label,
                fingerprint=p.fingerprint,
                imported_at=now,
                state="draft",
                finalized_at=None,
                finalized_by=None,
            )
            for p, found in replaced
        ]
        for part in chunks(updates):
            session.execute(
                update(ASSESSMENTS).where(ASSESSMENTS.c.id == bindparam("b_id")),
                list(part),
            )
        assessment_ids.update((id(p), found.id) for p, found in replaced)
    new_ids = rows.new_ids(ASSESSMENTS, len(new))
    rows.insert(
        ASSESSMENTS,
        ASSESSMENT_COLUMNS,
        [
            _assessment_values(aid, dep_ids[p.doc.deployment.id], p, now)
            for p, aid in zip(new, new_ids, strict=True)
        ],
    )
    assessment_ids.update((id(p), aid) for p, aid in zip(new, new_ids, strict=True))

    rows.insert(
        ASSESSMENT_CATALOGS,
        ("assessment_id", "catalog_id"),
        [(assessment_ids[id(p)], c) for p in written for c in refs.catalog_ids],
    )
    rows.insert(
        SAFETY_SCORES,
        SAFETY_SCORE_COLUMNS,
        [row for p in written for row in _safety_score_rows(assessment_ids[id(p)], p)],
    )
    rows.insert(
        RISK_ACCEPTANCES,
        ACCEPTANCE_COLUMNS,
        [row for p in written for row in _acceptance_rows(assessment_ids[id(p)], p, refs.checks)],
    )
    rows.insert(
        ASSESSMENT_DOCUMENTS,
        ("assessment_id", "name", "sha256", "size", "content"),
        [
            (
                assessment_ids[id(p)],
                p.label,
                hashlib.sha256(p.document).hexdigest(),
                len(p.document),
                p.document,
            )
            for p in written
            if p.document is not None
        ],
    )
    altered_before = len(store.restored)
    _write_results(rows, store, written, assessment_ids, refs, now, report)
    report.evidence_restored += len(store.restored) - altered_before  # altered copies replaced
    states = integrity.state_hashes(session, [assessment_ids[id(p)] for p in written])
    events = []
    for p in written:
        detail: dict[str, Any] = {
            "file": p.label,
            "fingerprint": p.fingerprint,
            "results": len(p.doc.assessment.results),
            "replaced": any(p is q for q, _f in replaced),
            "state": states[assessment_ids[id(p)]],
            "state_form": integrity.FORM,
        }
        if p.document is not None:
            # The file as imported, kept byte for byte (assessment_documents): its hash here.
            detail["document"] = {
                "sha256": hashlib.sha256(p.document).hexdigest(),
                "size": len(p.document),
            }
        if id(p) in found_changed:
            # The rows it replaced had been changed outside the tool: the event keeps their hash.
            detail["found_state"] = found_changed[id(p)]
        events.append(("assessment.import", _subject(p), detail))
    audit.record_many(session, events)


def _write_results(
    rows: _BulkRows,
    store: EvidenceStore,
    written: Sequence[Prepared],
    assessment_ids: dict[int, int],
    refs: _References,
    now: datetime,
    report: ImportReport,
) -> None:
    result_ids = iter(rows.new_ids(RESULTS, sum(len(p.doc.assessment.results) for p in written)))
    result_rows: list[tuple[Any, ...]] = []
    evidence_rows: list[tuple[Any, ...]] = []
    new_blobs = 0
    for p in written:
        aid = assessment_ids[id(p)]
        for i, (r, items) in enumerate(zip(p.doc.assessment.results, p.evidence, strict=True)):
            rid = next(result_ids)
            result_rows.append(_result_values(rid, aid, i, r, refs))
            for pos, e in enumerate(items):
                for path, blob in ((e.path, e.digest), (e.snapshot_path, e.snapshot)):
                    if blob is not None and path is not None:
                        if store.put(path, blob, sync=False):
                            new_blobs += 1
                        report.evidence_files += 1
                        report.evidence_distinct.add(blob.sha256)
                evidence_rows.append(_evidence_values(rid, pos, e, now))
    rows.insert(RESULTS, RESULT_COLUMNS, result_rows)
    report.evidence_new += new_blobs
    if new_blobs:
        # Every new evidence file is on disk before the transaction that points to it commits.
        os.sync()
    rows.insert(EVIDENCE, EVIDENCE_COLUMNS, evidence_rows)
