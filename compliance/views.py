"""View models: what the commands print and the reports render, built from the store."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gate import Decision, decide
from compliance.policy import LoadedPolicy
from compliance.rollup import CONTROL_STATUSES, framework_score
from compliance.store import queries
from compliance.store.models import Assessment, AssessmentCatalog, Catalog, Deployment
from compliance.store.rollup import contributions, control_statuses


def catalog_versions(session: Session, a: Assessment) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Catalog.kind, Catalog.key, Catalog.version, Catalog.sha256)
        .join(AssessmentCatalog, AssessmentCatalog.catalog_id == Catalog.id)
        .where(AssessmentCatalog.assessment_id == a.id)
        .order_by(Catalog.kind, Catalog.key)
    )
    return [dict(kind=k, id=key, version=v, sha256=sha) for k, key, v, sha in rows]


def gaps(
    session: Session, dep: Deployment, a: Assessment, framework: str | None = None
) -> dict[str, Any]:
    """Every assessable control with its status and contributing checks, per framework."""
    statuses = control_statuses(session, [a.id], framework)
    contrib: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in contributions(session, [a.id], framework):
        contrib[c.control_id].append(
            dict(
                check=c.check,
                title=c.check_title,
                status=c.status or "no_result",
                relationship=c.relationship,
            )
        )
    by_fw: dict[str, list[dict[str, Any]]] = defaultdict(list)
    mapped: Counter[str] = Counter()
    for s in statuses:
        if s.mapped:
            mapped[s.framework] += 1
        by_fw[s.framework].append(
            dict(
                control=f"{s.framework}/{s.ref}",
                ref=s.ref,
                kind=s.kind,
                parent=s.parent_ref,
                title=s.title,
                status=s.status,
                source=s.source,
                checks=contrib.get(s.control_id, []),
                **(
                    {"direct": {"status": s.direct_status, "notes": s.direct_notes}}
                    if s.direct_status
                    else {}
                ),
            )
        )
    frameworks = []
    for fw, controls in by_fw.items():
        counts = Counter(c["status"] for c in controls)
        score = framework_score(c["status"] for c in controls)
        frameworks.append(
            dict(
                id=fw,
                score=None if score is None else round(score, 4),
                coverage=round(mapped[fw] / len(controls), 4) if controls else None,
                counts={k: counts.get(k, 0) for k in CONTROL_STATUSES},
                controls=controls,
            )
        )
    return dict(
        deployment=dep.key,
        assessment=a.key,
        assessed_on=a.assessed_on.isoformat(),
        catalogs=catalog_versions(session, a),
        frameworks=frameworks,
    )


def decision(session: Session, a: Assessment, policy: LoadedPolicy, as_of: date | None) -> Decision:
    inputs = queries.gate_inputs(session, a)
    return decide(
        inputs.profile,
        inputs.results,
        inputs.acceptances,
        inputs.scores,
        policy.policy,
        queries.as_of_default(a, as_of),
    )


def decide_many(
    session: Session, assessments: list[Assessment], policy: LoadedPolicy, as_of: date | None
) -> dict[int, Decision]:
    """Decisions of many assessments from a few batched queries (see queries.gate_inputs_many)."""
    inputs = queries.gate_inputs_many(session, assessments)
    return {
        a.id: decide(
            inputs[a.id].profile,
            inputs[a.id].results,
            inputs[a.id].acceptances,
            inputs[a.id].scores,
            policy.policy,
            queries.as_of_default(a, as_of),
        )
        for a in assessments
    }


def deployment_row(dep: Deployment, a: Assessment, d: Decision) -> dict[str, Any]:
    """One line of a portfolio listing: the deployment and its latest assessment's decision."""
    return dict(
        deployment=dep.key,
        name=dep.name,
        owner=dep.owner,
        assessment=a.key,
        date=a.assessed_on.isoformat(),
        tier=d.tier,
        decision=d.decision,
        blockers=len(d.blockers),
        conditions=len(d.conditions),
    )


def gate_json(dep: Deployment, a: Assessment, d: Decision, policy: LoadedPolicy) -> dict[str, Any]:
    return dict(
        deployment=dep.key,
        assessment=a.key,
        as_of=d.as_of.isoformat(),
        tier=d.tier,
        tier_reasons=list(d.tier_reasons),
        decision=d.decision,
        blockers=[dict(check=f.check, reason=f.reason) for f in d.blockers],
        conditions=[
            dict(
                check=f.check,
                reason=f.reason,
                expires=f.expires.isoformat() if f.expires else None,
                approved_by=f.approved_by,
            )
            for f in d.conditions
        ],
        safety_scores=dict(
            minimum=d.min_safety_score,
            note="one input to the decision; a high score never waives a required check",
            scores=[
                dict(
                    benchmark=s.benchmark,
                    version=s.version,
                    score=s.score,
                    below_minimum=s.below_minimum,
                )
                for s in d.safety_scores
            ],
        ),
        required_checks=list(d.required_checks),
        policy=dict(id=policy.policy.id, version=policy.policy.version, sha256=policy.file.sha256),
    )
