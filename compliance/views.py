"""View models: what the commands print and the reports render, built from the store."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.gate import Decision, Finding, decide
from compliance.policy import LoadedPolicy
from compliance.rollup import CONTROL_STATUSES, coverage, framework_score
from compliance.store import queries
from compliance.store.models import Assessment, AssessmentCatalog, Catalog, Control, Deployment
from compliance.store.rollup import contributions, control_statuses


def catalog_versions(session: Session, a: Assessment) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Catalog.kind, Catalog.key, Catalog.version, Catalog.sha256)
        .join(AssessmentCatalog, AssessmentCatalog.catalog_id == Catalog.id)
        .where(AssessmentCatalog.assessment_id == a.id)
        .order_by(Catalog.kind, Catalog.key)
    )
    return [dict(kind=k, id=key, version=v, sha256=sha) for k, key, v, sha in rows]


def _top_level(refs: dict[str, str | None], ref: str) -> str:
    """The top-level entry (function, layer) a control sits under; itself when it has none."""
    seen = {ref}
    while (parent := refs.get(ref)) is not None and parent not in seen:
        seen.add(parent)
        ref = parent
    return ref


def gaps(
    session: Session,
    dep: Deployment,
    a: Assessment,
    framework: str | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Every assessable control with its status and contributing checks, per framework, with
    each framework's and each function's (top-level group's) score and coverage."""
    statuses = control_statuses(session, [a.id], framework)
    contrib: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in contributions(session, [a.id], framework):
        contrib[c.control_id].append(
            dict(
                check=c.check,
                title=c.check_title,
                status=c.status or "no_result",
                relationship=c.relationship,
                covering=c.covering,
            )
        )
    tree: dict[int, dict[str, str | None]] = defaultdict(dict)
    for cat_id, ref, parent in session.execute(
        select(Control.catalog_id, Control.ref, Control.parent_ref).where(
            Control.catalog_id.in_({s.catalog_id for s in statuses})
        )
    ).all():
        tree[cat_id][ref] = parent
    by_fw: dict[str, list[dict[str, Any]]] = defaultdict(list)
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for s in statuses:
        top = _top_level(tree[s.catalog_id], s.ref)
        if top != s.ref:  # frameworks without a hierarchy (OWASP ASI) have no functions
            groups[s.framework][top].append(s.status)
        by_fw[s.framework].append(
            dict(
                control=f"{s.framework}/{s.ref}",
                ref=s.ref,
                kind=s.kind,
                nature=s.nature,
                parent=s.parent_ref,
                function=top if top != s.ref else None,
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
        cov = coverage(c["status"] for c in controls)
        frameworks.append(
            dict(
                id=fw,
                score=None if score is None else round(score, 4),
                coverage=dict(
                    cov.as_dict(),
                    # The share of assessable controls some check is mapped to (the number this
                    # key held before coverage became an object).
                    share=round(cov.mapped / cov.assessable, 4) if cov.assessable else None,
                ),
                counts={k: counts.get(k, 0) for k in CONTROL_STATUSES},
                functions=[
                    dict(
                        id=g,
                        score=None if (gs := framework_score(v)) is None else round(gs, 4),
                        coverage=coverage(v).as_dict(),
                    )
                    for g, v in groups[fw].items()
                ],
                controls=controls,
            )
        )
    return dict(
        deployment=dep.key,
        assessment=a.key,
        assessed_on=a.assessed_on.isoformat(),
        assessment_state=a.state,
        as_of=(as_of or a.assessed_on).isoformat(),
        catalogs=catalog_versions(session, a),
        frameworks=frameworks,
    )


def _decide(inputs: queries.GateInputs, policy: LoadedPolicy, as_of: date) -> Decision:
    return decide(
        inputs.profile,
        inputs.results,
        inputs.acceptances,
        inputs.scores,
        policy.policy,
        as_of,
        inputs.assessed_on,
        inputs.assessor,
    )


def decision(session: Session, a: Assessment, policy: LoadedPolicy, as_of: date) -> Decision:
    """The decision on assessment `a` as of `as_of` (which is on or after its date)."""
    return _decide(queries.gate_inputs(session, a), policy, as_of)


def decide_many(
    session: Session,
    assessments: list[Assessment],
    policy: LoadedPolicy,
    as_of: date | Mapping[int, date],
) -> dict[int, Decision]:
    """Decisions of many assessments from a few batched queries (see queries.gate_inputs_many),
    each as of `as_of`, or as of the date `as_of` gives for its id."""
    inputs = queries.gate_inputs_many(session, assessments)
    return {
        a.id: _decide(inputs[a.id], policy, as_of if isinstance(as_of, date) else as_of[a.id])
        for a in assessments
    }


def deployment_row(dep: Deployment, a: Assessment | None, d: Decision | None) -> dict[str, Any]:
    """One line of a portfolio listing: the deployment and the decision of the assessment in
    force at the as-of date (all None, with `status` "not_assessed", when it has none)."""
    return dict(
        deployment=dep.key,
        name=dep.name,
        owner=dep.owner,
        assessment=a.key if a else None,
        date=a.assessed_on.isoformat() if a else None,
        state=a.state if a else None,
        tier=d.tier if d else None,
        decision=d.decision if d else None,
        blockers=len(d.blockers) if d else 0,
        conditions=len(d.conditions) if d else 0,
        status="assessed" if a else "not_assessed",
    )


def policy_json(policy: LoadedPolicy) -> dict[str, Any]:
    return dict(
        id=policy.policy.id,
        name=policy.policy.name,
        version=policy.policy.version,
        sha256=policy.file.sha256,
    )


def policy_label(policy: LoadedPolicy) -> str:
    return f"{policy.policy.id} {policy.policy.version} (sha256 {policy.file.sha256[:12]})"


def finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = dict(check=f.check, reason=f.reason, kind=f.kind)
    if f.scope is not None:
        out["scope"] = f.scope  # tools, data or audit: the profile part left undefined
    return out


def gate_json(dep: Deployment, a: Assessment, d: Decision, policy: LoadedPolicy) -> dict[str, Any]:
    return dict(
        deployment=dep.key,
        assessment=a.key,
        assessment_date=a.assessed_on.isoformat(),
        assessment_state=a.state,
        as_of=d.as_of.isoformat(),
        tier=d.tier,
        tier_reasons=list(d.tier_reasons),
        decision=d.decision,
        blockers=[finding_json(f) for f in d.blockers],
        conditions=[
            dict(
                finding_json(f),
                expires=f.expires.isoformat() if f.expires else None,
                approved_by=f.approved_by,
            )
            for f in d.conditions
        ],
        not_applicable=[
            dict(check=n.check, justification=n.justification) for n in d.not_applicable
        ],
        safety_scores=dict(
            minimum=d.min_safety_score,
            note="one input to the decision; a high score never waives a required check",
            scores=[
                dict(
                    benchmark=s.benchmark,
                    version=s.version,
                    score=s.score,
                    minimum=s.minimum,
                    below_minimum=s.below_minimum,
                )
                for s in d.safety_scores
            ],
        ),
        required_checks=list(d.required_checks),
        reassessment_due=d.reassessment_due.isoformat() if d.reassessment_due else None,
        policy=policy_json(policy),
    )
