"""View models only the portal needs: a deployment's history, an evidence item, and the ids that
link the reports' evidence entries to their items. Built from the store, like `compliance.views`."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from compliance import views
from compliance.errors import NotFound
from compliance.policy import LoadedPolicy
from compliance.store import queries
from compliance.store.models import (
    Assessment,
    Catalog,
    Check,
    Control,
    Deployment,
    Evidence,
    Result,
)


def history(session: Session, key: str, as_of: date, policy: LoadedPolicy) -> list[dict[str, Any]]:
    """Every assessment of a deployment, newest first, each with the decision that was in force
    then (decided as of its own date), and which one is in force at `as_of`."""
    dep = queries.deployment(session, key)
    rows = (
        session.execute(
            select(Assessment)
            .where(Assessment.deployment_id == dep.id)
            .order_by(Assessment.assessed_on.desc(), Assessment.id.desc())
        )
        .scalars()
        .all()
    )
    decided = views.decide_many(session, list(rows), policy, {a.id: a.assessed_on for a in rows})
    in_force = next((a.id for a in rows if a.assessed_on <= as_of), None)
    return [
        dict(
            assessment=a.key,
            date=a.assessed_on.isoformat(),
            assessor=a.assessor,
            state=a.state,
            decision=decided[a.id].decision,
            tier=decided[a.id].tier,
            blockers=len(decided[a.id].blockers),
            conditions=len(decided[a.id].conditions),
            in_force=a.id == in_force,
            future=a.assessed_on > as_of,
        )
        for a in rows
    ]


def _evidence_select(*columns: Any) -> Select[Any]:
    """Evidence items with their result, assessment and deployment, and the check or control
    the result was recorded on (`Check.key`, else `Catalog.key` and `Control.ref`)."""
    return (
        select(*columns)
        .join(Result, Result.id == Evidence.result_id)
        .join(Assessment, Assessment.id == Result.assessment_id)
        .join(Deployment, Deployment.id == Assessment.deployment_id)
        .outerjoin(Check, Check.id == Result.check_id)
        .outerjoin(Control, Control.id == Result.control_id)
        .outerjoin(Catalog, Catalog.id == Control.catalog_id)
    )


def evidence_links(session: Session, key: str, assessment: str) -> dict[str, int]:
    """`TARGET#N` -> evidence id, for the N-th evidence entry (in the order the reports list
    them) of the result on TARGET (a check id, or `FRAMEWORK/REF` for a result recorded on a
    control) in one assessment of one deployment."""
    rows = session.execute(
        _evidence_select(Evidence.id, Check.key, Catalog.key, Control.ref)
        .where(Deployment.key == key, Assessment.key == assessment)
        .order_by(Evidence.result_id, Evidence.position)
    ).all()
    seen: dict[str, int] = defaultdict(int)
    out: dict[str, int] = {}
    for eid, check, framework, ref in rows:
        target = check if check is not None else f"{framework}/{ref}"
        out[f"{target}#{seen[target]}"] = eid
        seen[target] += 1
    return out


def evidence_item(session: Session, key: str, evidence_id: int) -> dict[str, Any]:
    """One evidence item of one deployment: where it was recorded and what it is. An id of
    another deployment's item is unknown here."""
    row = session.execute(
        _evidence_select(Evidence, Result, Assessment, Check.key, Catalog.key, Control.ref).where(
            Deployment.key == key, Evidence.id == evidence_id
        )
    ).first()
    if row is None:
        raise NotFound(f"deployment {key} has no evidence item {evidence_id}")
    e, r, a, check, framework, ref = row
    return dict(
        id=e.id,
        deployment=key,
        assessment=dict(
            key=a.key, date=a.assessed_on.isoformat(), state=a.state, assessor=a.assessor
        ),
        target=check if check is not None else f"{framework}/{ref}",
        result=dict(status=r.status, notes=r.notes, tested_by=r.tested_by),
        kind=e.kind,
        name=e.file_name or e.url,
        description=e.description,
        sha256=e.sha256,
        size=e.size,
        media_type=e.media_type,
        url=e.url,
        collected=e.collected_on.isoformat() if e.collected_on else None,
        received=e.received_at.isoformat(timespec="seconds") if e.received_at else None,
        snapshot=None
        if e.snapshot_sha256 is None
        else dict(
            name=e.snapshot_name,
            sha256=e.snapshot_sha256,
            size=e.snapshot_size,
            media_type=e.snapshot_media_type,
        ),
    )
