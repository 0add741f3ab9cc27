"""The gap report: one deployment's assessment, for the engineer who owns it and the approver."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__, views
from compliance.dates import generated_at, stamp
from compliance.policy import LoadedPolicy
from compliance.reports.model.common import (
    FINDING_ACTIONS,
    GAP_STATUSES,
    NO_TEST_DETAILS,
    RESULT_LABELS,
    STATUS_LABELS,
    _acceptances,
    _evidence_for,
    _frameworks,
    _mark_freshness,
    _top_groups,
    drafts,
    due_of_gap,
    label,
    test_details,
)
from compliance.rollup import CONTROL_STATUSES, coverage, framework_score
from compliance.store import queries
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    Catalog,
    Check,
    Control,
    Result,
)
from compliance.store.rollup import ControlStatus, contributions, control_statuses


def _check_results(session: Session, a: Assessment) -> dict[str, dict[str, Any]]:
    """Every check of the assessment's checks catalog with its result (or none), in order."""
    checks_cat = session.execute(
        select(Catalog.id)
        .join(AssessmentCatalog, AssessmentCatalog.catalog_id == Catalog.id)
        .where(AssessmentCatalog.assessment_id == a.id, Catalog.kind == "checks")
    ).scalar_one()
    rows = session.execute(
        select(Check, Result)
        .outerjoin(Result, (Result.check_id == Check.id) & (Result.assessment_id == a.id))
        .where(Check.catalog_id == checks_cat)
        .order_by(Check.position)
    ).all()
    evidence = _evidence_for(session, [r.id for _c, r in rows if r is not None])
    out: dict[str, dict[str, Any]] = {}
    for check, result in rows:
        out[check.key] = dict(
            id=check.key,
            title=check.title,
            domain=check.domain,
            objective=check.objective,
            remediation=check.remediation,
            evidence_guidance=check.evidence_guidance,
            status=result.status if result else None,
            status_label=RESULT_LABELS[result.status if result else None],
            notes=result.notes if result else None,
            test=test_details(result) if result else dict(NO_TEST_DETAILS),
            evidence=evidence.get(result.id, []) if result else [],
        )
    return out


def _profile(a: Assessment) -> dict[str, Any]:
    p = a.profile or {}
    model = p.get("model") or {}
    return dict(
        model=dict(name=a.model_name, version=a.model_version),
        safety_scores=model.get("safety_scores") or [],
        workload_identity=a.workload_identity,
        credentials=a.credentials,
        tools=a.tools,
        data=a.data_classes,
        authority=a.authority or [],
        autonomy=a.autonomy,
        autonomy_label=label("autonomy", a.autonomy),
        credentials_label=label("credentials", a.credentials),
        customer_facing=a.customer_facing,
        audit_logging=a.audit_logging,
        memory=a.memory,
        memory_label=label("memory", a.memory),
        # None: not stated (SEC-04 is then required); []: talks to no other agent.
        agents=a.agents,
    )


def _framework_blocks(
    statuses: list[ControlStatus],
    fw_info: dict[str, dict[str, Any]],
    groups: dict[int, tuple[str, str]],
    contrib: dict[int, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    by_fw: dict[str, list[ControlStatus]] = defaultdict(list)
    for s in statuses:
        by_fw[s.framework].append(s)
    out = []
    for fw, rows in by_fw.items():
        counts = Counter(r.status for r in rows)
        score = framework_score(r.status for r in rows)
        by_group: dict[str, list[str]] = defaultdict(list)
        group_titles: dict[str, str] = {}
        for r in rows:
            g, title = groups[r.control_id]
            by_group[g].append(r.status)
            group_titles[g] = title
        out.append(
            dict(
                **fw_info[fw],
                score=score,
                coverage=coverage(r.status for r in rows).as_dict(),
                counts=[
                    dict(status=k, label=STATUS_LABELS[k], count=counts.get(k, 0))
                    for k in CONTROL_STATUSES
                ],
                total=len(rows),
                groups=[
                    dict(
                        ref=g,
                        title=group_titles[g],
                        score=framework_score(v),
                        coverage=coverage(v).as_dict(),
                        total=len(v),
                        gaps=sum(1 for x in v if x in GAP_STATUSES),
                    )
                    for g, v in by_group.items()
                ],
                controls=[
                    dict(
                        control=f"{fw}/{r.ref}",
                        ref=r.ref,
                        kind=r.kind,
                        title=r.title,
                        text=r.text,
                        status=r.status,
                        status_label=STATUS_LABELS[r.status],
                        source=r.source,
                        direct_notes=r.direct_notes,
                        nature=r.nature,
                        checks=contrib.get(r.control_id, []),
                    )
                    for r in rows
                ],
            )
        )
    return out


def gap_report(
    session: Session,
    deployment: str,
    assessment: str | None,
    as_of: date,
    policy: LoadedPolicy,
) -> dict[str, Any]:
    """The engineer's and approver's view of one deployment assessment, decided as of `as_of`
    (the assessment in force then, unless one is named)."""
    dep = queries.deployment(session, deployment)
    a = queries.assessment(session, dep, assessment, as_of)
    d = views.decision(session, a, policy, as_of)
    decision = views.gate_json(dep, a, d, policy)
    catalog_ids = [
        c
        for (c,) in session.execute(
            select(AssessmentCatalog.catalog_id).where(AssessmentCatalog.assessment_id == a.id)
        ).all()
    ]
    fw_info = _frameworks(session, catalog_ids)
    groups = _top_groups(session, catalog_ids)
    statuses = control_statuses(session, [a.id])
    contrib: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for con in contributions(session, [a.id]):
        contrib[con.control_id].append(
            dict(
                check=con.check,
                title=con.check_title,
                relationship=con.relationship,
                rationale=con.rationale,
                covering=con.covering,
                status=con.status,
                status_label=RESULT_LABELS[con.status],
            )
        )
    frameworks = _framework_blocks(statuses, fw_info, groups, contrib)
    checks = _check_results(session, a)
    for key, c in checks.items():
        _mark_freshness(c["evidence"], key, d.as_of, policy, a.assessed_on)
    stale_evidence = [
        dict(
            check=key,
            name=e["name"],
            collected=e["collected"],
            age_days=e["age_days"],
            max_age_days=e["max_age_days"],
        )
        for key, c in checks.items()
        for e in c["evidence"]
        if e["stale"]
    ]
    blocking = {f.check: f.reason for f in d.blockers if f.check}
    conditional = {f.check: f for f in d.conditions if f.check}
    required = set(d.required_checks)
    # Controls each check leaves open, for "what this gap costs you" in every framework.
    open_controls: dict[str, list[str]] = defaultdict(list)
    for s in statuses:
        if s.status in GAP_STATUSES:
            for c in contrib.get(s.control_id, []):
                if c["status"] != "pass":
                    open_controls[c["check"]].append(f"{s.framework}/{s.ref}")
    acceptances = _acceptances(session, [a.id], d.as_of)
    # The acceptance that covers each check now, else the latest one recorded for it.
    acceptance_of: dict[str, dict[str, Any]] = {}
    for x in acceptances:
        held = acceptance_of.get(x["check"])
        if held is None or (x["state"] == "active") >= (held["state"] == "active"):
            acceptance_of[x["check"]] = x
    tier_def = policy.policy.tier(d.tier)
    gaps: list[dict[str, Any]] = []
    # A required check taken as not applicable is no gap; one the policy does not let be not
    # applicable (or left without a justification) counts as no result, and is.
    accepted_na = {n.check for n in d.not_applicable}
    for cid, c in checks.items():
        if (
            c["status"] == "pass"
            or (c["status"] == "not_applicable" and (cid in accepted_na or cid not in required))
            or (c["status"] is None and cid not in required)
        ):
            continue
        if cid in blocking:
            rank, effect = 0, "Blocks the decision"
        elif cid in conditional:
            rank, effect = 1, f"Condition (risk accepted until {conditional[cid].expires})"
        elif cid in required:
            rank, effect = 2, "Required"
        else:
            rank, effect = 3, "Not required at this tier"
        gaps.append(
            dict(
                **c,
                rank=rank,
                effect=effect,
                required=cid in required,
                reason=blocking.get(cid)
                or (conditional[cid].reason if cid in conditional else None),
                controls=open_controls.get(cid, []),
                acceptance=acceptance_of.get(cid),
                **_plan(c, acceptance_of.get(cid), tier_def.remediation_days, a, dep, d.as_of),
            )
        )
    gaps.sort(key=lambda g: (g["rank"], {"fail": 0, "partial": 1, None: 2}.get(g["status"], 3)))
    # Results recorded directly on framework controls, with their evidence.
    direct_rows = session.execute(
        select(Result.id, Catalog.key, Control.ref)
        .join(Control, Control.id == Result.control_id)
        .join(Catalog, Catalog.id == Control.catalog_id)
        .where(Result.assessment_id == a.id)
    ).all()
    direct_evidence = _evidence_for(session, [rid for rid, _fw, _ref in direct_rows])
    evidence_by_control = {
        f"{fw}/{ref}": direct_evidence.get(rid, []) for rid, fw, ref in direct_rows
    }
    for items in evidence_by_control.values():
        _mark_freshness(items, None, d.as_of, policy, a.assessed_on)
    direct_gaps = [
        dict(
            control=c["control"],
            title=c["title"],
            status=c["status"],
            status_label=c["status_label"],
            notes=c["direct_notes"],
            framework=fw["id"],
            evidence=evidence_by_control.get(c["control"], []),
        )
        for fw in frameworks
        for c in fw["controls"]
        if c["source"] == "direct" and c["status"] in GAP_STATUSES
    ]
    # Blockers and conditions that are not about one check (profile, safety score,
    # re-assessment): they lead the list of what to do, each with what to do about it.
    decision_items = [
        dict(
            kind=f["kind"],
            kind_label=label("finding", f["kind"]),
            severity=severity,
            reason=f["reason"],
            action=FINDING_ACTIONS.get(f["kind"], ""),
        )
        for severity, found in (
            ("blocker", decision["blockers"]),
            ("condition", decision["conditions"]),
        )
        for f in found
        if not f["check"]
    ]
    for c in checks.values():
        c["acceptance"] = acceptance_of.get(c["id"])
    # Every result recorded as not applicable, with its justification and whether it counts.
    never = set(policy.policy.not_applicable.never)
    not_applicable = [
        dict(
            target=c["id"],
            title=c["title"],
            justification=c["notes"],
            required=c["id"] in required,
            counts=c["id"] not in never and bool((c["notes"] or "").strip()),
            why_not=None
            if c["id"] not in never and (c["notes"] or "").strip()
            else (
                f"the policy never lets {c['id']} be not applicable: it counts as no result"
                if c["id"] in never
                else "no justification: it counts as no result"
            ),
        )
        for c in checks.values()
        if c["status"] == "not_applicable"
    ]
    return dict(
        kind="gap",
        title=f"Gap report: {dep.name}",
        drafts=drafts([(dep, a)]),
        tool_version=__version__,
        generated_at=stamp(generated_at()),
        as_of=d.as_of.isoformat(),
        deployment=dict(
            key=dep.key,
            name=dep.name,
            owner=dep.owner,
            environment=dep.environment,
            business_process=dep.business_process,
        ),
        assessment=dict(
            key=a.key,
            date=a.assessed_on.isoformat(),
            assessor=a.assessor,
            state=a.state,
            source=a.source_name,
        ),
        catalogs=views.catalog_versions(session, a),
        decision=decision,
        profile=_profile(a),
        frameworks=frameworks,
        gaps=gaps,
        direct_gaps=direct_gaps,
        checks=list(checks.values()),
        acceptances=acceptances,
        stale_evidence=stale_evidence,
        decision_items=decision_items,
        not_applicable=not_applicable,
        reassessment=dict(
            due=decision["reassessment_due"],
            days_left=(d.reassessment_due - d.as_of).days if d.reassessment_due else None,
            counted_from=d.as_of.isoformat(),
        ),
    )


def _plan(
    c: dict[str, Any],
    acceptance: dict[str, Any] | None,
    remediation_days: int | None,
    a: Assessment,
    dep: Any,
    as_of: date,
) -> dict[str, Any]:
    """Owner, due date (and its basis) and plan status of one gap."""
    test = c["test"]
    stated = test["remediation"] or {}
    active = acceptance if acceptance and acceptance["state"] == "active" else None
    due, basis = due_of_gap(
        date.fromisoformat(stated["due"]) if stated.get("due") else None,
        date.fromisoformat(active["expires"]) if active else None,
        remediation_days,
        a.assessed_on,
    )
    return dict(
        owner=stated.get("owner") or dep.owner,
        owner_basis="remediation owner stated" if stated.get("owner") else "deployment owner",
        due=due,
        due_basis=basis,
        due_days_left=(date.fromisoformat(due) - as_of).days if due else None,
        overdue=bool(due and date.fromisoformat(due) < as_of),
    )
