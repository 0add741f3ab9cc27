"""An assessment as stored, in the import format: what a prefilled questionnaire starts from."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.store import queries
from compliance.store.models import Catalog, Check, Control, Evidence, Result, RiskAcceptance


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def assessment_document(
    session: Session, deployment: str, assessment: str | None, as_of: date
) -> dict[str, Any]:
    """The assessment (default: the one in force at `as_of`) as an assessment file's content:
    the deployment block as imported, every result with its test fields and evidence (files by
    name and SHA-256, links with their snapshot), and the risk acceptances."""
    dep = queries.deployment(session, deployment)
    a = queries.assessment(session, dep, assessment, as_of)
    rows = session.execute(
        select(Result, Check.key, Catalog.key, Control.ref)
        .outerjoin(Check, Check.id == Result.check_id)
        .outerjoin(Control, Control.id == Result.control_id)
        .outerjoin(Catalog, Catalog.id == Control.catalog_id)
        .where(Result.assessment_id == a.id)
        .order_by(Result.position, Result.id)
    ).all()
    evidence: dict[int, list[dict[str, Any]]] = {}
    ids = [r.id for r, *_rest in rows]
    if ids:
        for ev in session.execute(
            select(Evidence)
            .where(Evidence.result_id.in_(ids))
            .order_by(Evidence.result_id, Evidence.position, Evidence.id)
        ).scalars():
            item = (
                {"file": ev.file_name, "sha256": ev.sha256}
                if ev.kind == "file"
                else {"url": ev.url, "snapshot": ev.snapshot_name}
            )
            item.update(description=ev.description, collected=_day(ev.collected_on))
            evidence.setdefault(ev.result_id, []).append(_drop_none(item))
    results = []
    for r, check, framework, ref in rows:
        result: dict[str, Any] = (
            {"check": check} if check is not None else {"control": f"{framework}/{ref}"}
        )
        result.update(
            status=r.status,
            notes=r.notes,
            method=r.method,
            tested_by=r.tested_by,
            tested_on=_day(r.tested_on),
            population=r.population,
            exceptions=r.exceptions,
        )
        if r.sample_size is not None:
            result["sample"] = _drop_none({"size": r.sample_size, "selection": r.sample_selection})
        if r.remediation_owner is not None:
            result["remediation"] = {"owner": r.remediation_owner, "due": _day(r.remediation_due)}
        if r.id in evidence:
            result["evidence"] = evidence[r.id]
        results.append(_drop_none(result))
    acceptances = [
        _drop_none(
            {
                "check": key,
                "approved_by": acc.approved_by,
                "justification": acc.justification,
                "expires": _day(acc.expires),
                "approved_on": _day(acc.approved_on),
                "approver_role": acc.approver_role,
                "compensating_controls": acc.compensating_controls,
            }
        )
        for acc, key in session.execute(
            select(RiskAcceptance, Check.key)
            .join(Check, Check.id == RiskAcceptance.check_id)
            .where(RiskAcceptance.assessment_id == a.id)
            .order_by(RiskAcceptance.position, RiskAcceptance.id)
        )
    ]
    return {
        "deployment": dict(a.profile),
        "assessment": {
            "id": a.key,
            "date": a.assessed_on.isoformat(),
            "assessor": a.assessor,
            "results": results,
            "acceptances": acceptances,
        },
    }
