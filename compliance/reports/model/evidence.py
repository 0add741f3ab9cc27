"""The evidence report: one framework, control by control, for the auditor."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__
from compliance.dates import generated_at, stamp
from compliance.policy import LoadedPolicy
from compliance.reports.model.common import (
    RESULT_LABELS,
    STATUS_LABELS,
    _evidence_for,
    _frameworks,
    _mark_freshness,
    latest_assessments,
)
from compliance.rollup import CONTROL_STATUSES, coverage, framework_score
from compliance.store import queries
from compliance.store.models import Assessment, Check, Deployment, Result
from compliance.store.rollup import (
    ControlStatus,
    as_control_statuses,
    contributions,
    control_statuses,
    portfolio_matrix,
)


def evidence_report(
    session: Session,
    framework: str,
    deployment: str | None,
    as_of: date,
    deployments: Sequence[str] | None = None,
    policy: LoadedPolicy | None = None,
) -> dict[str, Any]:
    """The auditor's view: one framework, control by control, with every result and evidence
    item, for the assessments in force at `as_of`."""
    pairs: list[tuple[Deployment, Assessment, Assessment | None]]
    if deployment:
        dep = queries.deployment(session, deployment)
        pairs = [(dep, queries.assessment(session, dep, None, as_of), None)]
        unassessed: list[Deployment] = []
    else:
        everything = latest_assessments(session, as_of, deployments)
        pairs = [(d, a, p) for d, a, p in everything if a is not None]
        unassessed = [d for d, a, _p in everything if a is None]
    ids = [a.id for _d, a, _p in pairs]
    report_as_of = as_of
    if deployment or deployments:
        statuses = control_statuses(session, ids, framework)
    else:  # the whole portfolio: its gap matrix in one statement, latest assessments chosen in SQL
        matrix = portfolio_matrix(session, as_of, framework)
        statuses = as_control_statuses(matrix.rows, matrix.controls)
    if not statuses:
        from compliance.store.catalog_store import framework_row

        framework_row(session, framework)  # raises a clear error for an unknown framework
    contrib: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for c in contributions(session, ids, framework):
        contrib[(c.assessment_id, c.control_id)].append(c)
    # Results with their evidence, keyed by (assessment, check key) and (assessment, control id).
    result_rows = session.execute(
        select(
            Result.id,
            Result.assessment_id,
            Check.key,
            Result.control_id,
            Result.status,
            Result.notes,
        )
        .outerjoin(Check, Check.id == Result.check_id)
        .where(Result.assessment_id.in_(ids))
    ).all()
    evidence = _evidence_for(session, [r[0] for r in result_rows])
    by_check: dict[tuple[int, str], tuple[int | None, str | None, str | None]] = {
        (aid, key): (rid, st, notes) for rid, aid, key, _ctl, st, notes in result_rows if key
    }
    by_control = {
        (aid, ctl): (rid, st, notes) for rid, aid, _key, ctl, st, notes in result_rows if ctl
    }
    catalog_ids = sorted({s.catalog_id for s in statuses})
    fw = _frameworks(session, catalog_ids)
    sections = []
    per_aid: dict[int, list[ControlStatus]] = defaultdict(list)
    for s in statuses:
        per_aid[s.assessment_id].append(s)
    for dep, a, _p in pairs:
        controls: list[dict[str, Any]] = []
        for s in per_aid.get(a.id, []):
            results: list[dict[str, Any]] = []
            if (a.id, s.control_id) in by_control:
                rid, st, notes = by_control[(a.id, s.control_id)]
                results.append(
                    dict(
                        target=f"{framework}/{s.ref}",
                        title=None,
                        kind="direct",
                        relationship=None,
                        status=st,
                        status_label=RESULT_LABELS[st],
                        notes=notes,
                        evidence=evidence.get(rid, []),
                    )
                )
                _mark_freshness(results[-1]["evidence"], None, report_as_of, policy, a.assessed_on)
            for c in contrib.get((a.id, s.control_id), []):
                found = by_check.get((a.id, c.check))
                crid, cst, cnotes = found if found else (None, None, None)
                results.append(
                    dict(
                        target=c.check,
                        title=c.check_title,
                        kind="check",
                        relationship=c.relationship,
                        rationale=c.rationale,
                        covering=c.covering,
                        status=cst,
                        status_label=RESULT_LABELS[cst],
                        notes=cnotes,
                        evidence=evidence.get(crid, []) if crid else [],
                    )
                )
                _mark_freshness(
                    results[-1]["evidence"], c.check, report_as_of, policy, a.assessed_on
                )
            controls.append(
                dict(
                    control=f"{framework}/{s.ref}",
                    ref=s.ref,
                    title=s.title,
                    text=s.text,
                    nature=s.nature,
                    status=s.status,
                    status_label=STATUS_LABELS[s.status],
                    source=s.source,
                    assessed="directly"
                    if s.source == "direct"
                    else ("rolled up" if s.mapped else "no mapping"),
                    results=results,
                )
            )
        counts = Counter(c["status"] for c in controls)
        sections.append(
            dict(
                deployment=dict(key=dep.key, name=dep.name, owner=dep.owner),
                assessment=dict(
                    key=a.key, date=a.assessed_on.isoformat(), assessor=a.assessor, state=a.state
                ),
                score=framework_score(c["status"] for c in controls),
                coverage=coverage(c["status"] for c in controls).as_dict(),
                counts=[
                    dict(status=k, label=STATUS_LABELS[k], count=counts.get(k, 0))
                    for k in CONTROL_STATUSES
                ],
                controls=controls,
            )
        )
    info = next(iter(fw.values()), dict(id=framework, name=framework, version="", sha256=""))
    return dict(
        kind="evidence",
        title=f"Evidence report: {info['name']}",
        tool_version=__version__,
        generated_at=stamp(generated_at()),
        as_of=as_of.isoformat(),
        framework=info,
        sections=sections,
        not_assessed=[dict(deployment=d.key, name=d.name, owner=d.owner) for d in unassessed],
    )
