"""Writing a validated batch of assessments: set-based, a few bulk statements per table.

The batch is classified first (new, replacing a draft, unchanged) with one query per table, then
each table is written with one bulk statement per chunk, so the cost grows with the number of
rows, not with the number of round trips.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from compliance.errors import ComplianceError
from compliance.evidence import EvidenceStore
from compliance.store import audit
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    Base,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
    SafetyScore,
)

if TYPE_CHECKING:
    from compliance.importer.core import ImportReport, Prepared, _References

# Core tables: per-row UPDATEs by a bound id, without the ORM's bulk-update machinery.
DEPLOYMENTS = Base.metadata.tables["deployments"]
ASSESSMENTS = Base.metadata.tables["assessments"]
RESULTS = Base.metadata.tables["results"]
CHUNK = 5_000  # rows per IN list or bulk statement, within every backend's parameter limits
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class _Existing:
    id: int
    state: str
    fingerprint: str


def _profile_columns(p: Prepared) -> dict[str, Any]:
    d = p.doc.deployment
    return dict(
        model_name=d.model.name,
        model_version=d.model.version,
        workload_identity=d.identity.workload_identity if d.identity else None,
        credentials=d.identity.credentials if d.identity else None,
        tools=None if d.tools is None else [t.model_dump() for t in d.tools],
        data_classes=None if d.data is None else list(d.data),
        authority=list(d.authority),
        autonomy=d.autonomy,
        customer_facing=d.customer_facing,
        audit_logging=d.audit.logging if d.audit else None,
        profile=d.model_dump(mode="json", exclude_none=False),
    )


def _deployments(session: Session, batch: Sequence[Prepared], now: datetime) -> dict[str, int]:
    """Ids of every deployment in the batch, creating the missing ones in bulk."""
    keys = sorted({p.doc.deployment.id for p in batch})
    ids: dict[str, int] = {}
    for part in chunks(keys):
        ids.update(
            session.execute(
                select(Deployment.key, Deployment.id).where(Deployment.key.in_(part))
            ).all()
        )
    first: dict[str, Prepared] = {}
    for p in batch:
        first.setdefault(p.doc.deployment.id, p)
    new = [k for k in keys if k not in ids]
    for key_part in chunks(new):
        rows = [
            dict(
                key=k,
                name=first[k].doc.deployment.name,
                owner=first[k].doc.deployment.owner,
                environment=first[k].doc.deployment.environment,
                business_process=first[k].doc.deployment.business_process,
                created_at=now,
                updated_at=now,
            )
            for k in key_part
        ]
        returned = session.execute(
            insert(DEPLOYMENTS).returning(
                DEPLOYMENTS.c.key, DEPLOYMENTS.c.id, sort_by_parameter_order=True
            ),
            rows,
        ).all()
        ids.update((k, i) for k, i in returned)
    return ids


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
    dates: dict[int, list[tuple[str, date]]],
    now: datetime,
) -> None:
    """The deployment record follows its most recent assessment."""
    newest: dict[int, Prepared] = {}
    for p in written:
        dep = dep_ids[p.doc.deployment.id]
        best = newest.get(dep)
        if best is None or p.doc.assessment.date >= best.doc.assessment.date:
            newest[dep] = p
    rows = []
    for dep, p in newest.items():
        others = [on for key, on in dates.get(dep, []) if key != p.doc.assessment.id]
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
        for model in (Result, RiskAcceptance, SafetyScore, AssessmentCatalog):
            session.execute(delete(model).where(model.assessment_id.in_(part)))


def write_batch(
    session: Session,
    store: EvidenceStore,
    batch: Sequence[Prepared],
    refs: _References,
    report: ImportReport,
) -> None:
    """Write every prepared assessment in the caller's transaction."""
    now = datetime.now(UTC)
    dep_ids = _deployments(session, batch, now)
    existing, dates = _existing(session, dep_ids.values())
    new: list[Prepared] = []
    replaced: list[tuple[Prepared, _Existing]] = []
    for p in batch:
        found = existing.get((dep_ids[p.doc.deployment.id], p.doc.assessment.id))
        if found is None:
            new.append(p)
            report.imported.append(p.label)
        elif found.fingerprint == p.fingerprint:
            report.unchanged.append(p.label)
        elif found.state == "final":  # refused in prepare(); kept so the library never alters one
            raise ComplianceError(
                f"assessment {p.doc.assessment.id} of deployment {p.doc.deployment.id} is finalized"
            )
        else:
            replaced.append((p, found))
            report.replaced.append(p.label)
    written = new + [p for p, _ in replaced]
    if not written:
        return
    _refresh_deployments(session, written, dep_ids, dates, now)

    def columns(p: Prepared) -> dict[str, Any]:
        a = p.doc.assessment
        return dict(
            assessed_on=a.date,
            assessor=a.assessor,
            source_name=p.label,
            fingerprint=p.fingerprint,
            imported_at=now,
            **_profile_columns(p),
        )

    assessment_ids: dict[int, int] = {}  # id(prepared) -> assessment id
    if replaced:
        _delete_children(session, [found.id for _p, found in replaced])
        updates = [dict(b_id=found.id, **columns(p)) for p, found in replaced]
        for part in chunks(updates):
            session.execute(
                update(ASSESSMENTS).where(ASSESSMENTS.c.id == bindparam("b_id")),
                list(part),
            )
        assessment_ids.update((id(p), found.id) for p, found in replaced)
    for new_part in chunks(new):
        rows = [
            dict(
                deployment_id=dep_ids[p.doc.deployment.id],
                key=p.doc.assessment.id,
                state="draft",
                **columns(p),
            )
            for p in new_part
        ]
        returned = (
            session.execute(
                insert(ASSESSMENTS).returning(ASSESSMENTS.c.id, sort_by_parameter_order=True), rows
            )
            .scalars()
            .all()
        )
        assessment_ids.update((id(p), aid) for p, aid in zip(new_part, returned, strict=True))

    _bulk(
        session,
        AssessmentCatalog,
        (
            dict(assessment_id=assessment_ids[id(p)], catalog_id=c)
            for p in written
            for c in refs.catalog_ids
        ),
    )
    _bulk(
        session,
        SafetyScore,
        (
            dict(
                assessment_id=assessment_ids[id(p)],
                benchmark=s.benchmark,
                version=s.version,
                score=s.score,
            )
            for p in written
            for s in p.doc.deployment.model.safety_scores
        ),
    )
    _bulk(
        session,
        RiskAcceptance,
        (
            dict(
                assessment_id=assessment_ids[id(p)],
                check_id=refs.checks[x.check],
                approved_by=x.approved_by,
                justification=x.justification,
                expires=x.expires,
                position=i,
            )
            for p in written
            for i, x in enumerate(p.doc.assessment.acceptances)
        ),
    )
    _write_results(session, store, written, assessment_ids, refs, now, report)
    audit.record_many(
        session,
        [
            (
                "assessment.import",
                f"{p.doc.deployment.id}/{p.doc.assessment.id}",
                {
                    "file": p.label,
                    "fingerprint": p.fingerprint,
                    "results": len(p.doc.assessment.results),
                    "replaced": any(p is q for q, _f in replaced),
                },
            )
            for p in written
        ],
    )


def _bulk(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> None:
    buffer: list[dict[str, Any]] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= CHUNK:
            session.execute(insert(model.__table__), buffer)
            buffer = []
    if buffer:
        session.execute(insert(model.__table__), buffer)


def _write_results(
    session: Session,
    store: EvidenceStore,
    written: Sequence[Prepared],
    assessment_ids: dict[int, int],
    refs: _References,
    now: datetime,
    report: ImportReport,
) -> None:
    rows: list[dict[str, Any]] = []
    evidence_of: list[Any] = []  # the prepared evidence list of each result row, same order
    for p in written:
        aid = assessment_ids[id(p)]
        for i, (r, items) in enumerate(zip(p.doc.assessment.results, p.evidence, strict=True)):
            rows.append(
                dict(
                    assessment_id=aid,
                    check_id=refs.checks[r.check] if r.check else None,
                    control_id=refs.controls[r.control][0] if r.control else None,
                    status=r.status,
                    notes=r.notes,
                    position=i,
                )
            )
            evidence_of.append(items)
    new_blobs = []
    ev_rows: list[dict[str, Any]] = []
    for part_rows, part_items in zip(chunks(rows), chunks(evidence_of), strict=True):
        result_ids = (
            session.execute(
                insert(RESULTS).returning(RESULTS.c.id, sort_by_parameter_order=True),
                list(part_rows),
            )
            .scalars()
            .all()
        )
        for rid, items in zip(result_ids, part_items, strict=True):
            for pos, e in enumerate(items):
                if e.digest is not None and e.path is not None:
                    if store.put(e.path, e.digest, sync=False):
                        new_blobs.append(e.digest.sha256)
                    report.evidence_files += 1
                ev_rows.append(
                    dict(
                        result_id=rid,
                        position=pos,
                        kind=e.kind,
                        file_name=e.file_name,
                        sha256=e.digest.sha256 if e.digest else None,
                        size=e.digest.size if e.digest else None,
                        media_type=e.digest.media_type if e.digest else None,
                        url=e.url,
                        description=e.description,
                        collected_at=now
                        if e.collected is None
                        else datetime.combine(e.collected, time.min, tzinfo=UTC),
                    )
                )
    if new_blobs:
        # Every new evidence file is on disk before the transaction that points to it commits.
        os.sync()
    _bulk(session, Evidence, ev_rows)
