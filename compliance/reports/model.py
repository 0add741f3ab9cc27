"""View models for the reports: plain, ordered data, built once and handed to every renderer.

Renderers never query the database; everything a report shows is in these structures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from compliance import __version__, views
from compliance.dates import generated_at, stamp
from compliance.gate import evidence_age
from compliance.policy import LoadedPolicy
from compliance.rollup import CONTROL_STATUSES, coverage, framework_score
from compliance.store import queries
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    Catalog,
    Check,
    Control,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
)
from compliance.store.rollup import (
    ControlStatus,
    as_control_statuses,
    contributions,
    control_statuses,
    group_scores,
    latest_query,
    portfolio_matrix,
)

STATUS_LABELS = {
    "met": "Met",
    "partial": "Partial",
    "gap": "Gap",
    "not_assessed": "Not assessed",
    "not_applicable": "Not applicable",
    "unmapped": "Unmapped",
}
RESULT_LABELS = {
    "pass": "Pass",
    "fail": "Fail",
    "partial": "Partial",
    "not_applicable": "Not applicable",
    None: "No result",
}
GAP_STATUSES = ("gap", "partial", "not_assessed")
TIER_ORDER = ("critical", "high", "medium", "low")
DECISION_ORDER = ("BLOCK", "CONDITIONAL", "APPROVE")


def _frameworks(session: Session, catalog_ids: Sequence[int]) -> dict[str, dict[str, Any]]:
    rows = session.execute(
        select(Catalog.key, Catalog.name, Catalog.version, Catalog.sha256, Catalog.source)
        .where(Catalog.id.in_(catalog_ids), Catalog.kind == "framework")
        .order_by(Catalog.key)
    ).all()
    out = {}
    for key, name, version, sha, source in rows:
        src = source or {}
        out[key] = dict(
            id=key,
            name=name,
            version=version,
            sha256=sha,
            publisher=src.get("publisher"),
            license=src.get("license") or src.get("licence"),
            url=src.get("url"),
        )
    return out


def _top_groups(session: Session, catalog_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """control id -> (top-level group ref, title): the function, layer or similar it sits under.

    Top-level controls with no children (OWASP's ten risks, MAESTRO's cross-layer threats) share
    one group: the whole framework when it has no hierarchy, else "Other".
    """
    rows = session.execute(
        select(
            Control.id, Control.catalog_id, Control.ref, Control.parent_ref, Control.title
        ).where(Control.catalog_id.in_(catalog_ids))
    ).all()
    by_ref = {(cat, ref): (parent, title) for _id, cat, ref, parent, title in rows}
    has_children = {(cat, parent) for _id, cat, _ref, parent, _t in rows if parent is not None}
    hierarchical = {cat for cat, _p in has_children}
    out: dict[int, tuple[str, str]] = {}
    for cid, cat, ref, _parent, _title in rows:
        top = ref
        while True:
            parent = by_ref[(cat, top)][0]
            if parent is None or (cat, parent) not in by_ref:
                break
            top = parent
        if (cat, top) not in has_children:
            out[cid] = ("*", "All") if cat not in hierarchical else ("other", "Other")
        else:
            out[cid] = (top, by_ref[(cat, top)][1] or top)
    return out


def _evidence_for(session: Session, result_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not result_ids:
        return out
    for e in session.execute(
        select(Evidence)
        .where(Evidence.result_id.in_(result_ids))
        .order_by(Evidence.result_id, Evidence.position)
    ).scalars():
        out[e.result_id].append(
            dict(
                kind=e.kind,
                name=e.file_name or e.url,
                description=e.description,
                sha256=e.sha256,
                size=e.size,
                media_type=e.media_type,
                url=e.url,
                # The date the evidence was produced, as stated; None: not stated.
                collected=e.collected_on.isoformat() if e.collected_on else None,
                received=stamp(e.received_at) if e.received_at else None,
                snapshot=None
                if e.snapshot_sha256 is None
                else dict(
                    name=e.snapshot_name,
                    sha256=e.snapshot_sha256,
                    size=e.snapshot_size,
                    media_type=e.snapshot_media_type,
                ),
            )
        )
    return out


def _mark_freshness(
    items: list[dict[str, Any]],
    check: str | None,
    as_of: date,
    policy: LoadedPolicy | None,
    assessed_on: date,
) -> None:
    """Flag evidence older than the policy allows at the as-of date. Evidence whose collection
    date is not stated is as old as the assessment."""
    freshness = policy.policy.evidence_freshness if policy else None
    for e in items:
        collected = date.fromisoformat(e["collected"]) if e.get("collected") else None
        age = evidence_age(collected, assessed_on, as_of)
        limit = freshness.max_age(check) if freshness else None
        e["age_days"] = age
        e["age_from"] = "collected" if collected else "assessment date"
        e["max_age_days"] = limit
        e["stale"] = bool(limit is not None and age > limit)


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
        customer_facing=a.customer_facing,
        audit_logging=a.audit_logging,
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
    acceptances = _acceptances(session, [a.id], d.as_of)
    return dict(
        kind="gap",
        title=f"Gap report: {dep.name}",
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
    )


def _acceptances(
    session: Session, assessment_ids: Sequence[int], as_of: date
) -> list[dict[str, Any]]:
    """The risk acceptances of these assessments, each with its state at `as_of` and the days
    from `as_of` to its expiry."""
    rows = session.execute(
        select(
            Deployment.key,
            Deployment.name,
            Assessment.key,
            Assessment.assessed_on,
            Check.key,
            RiskAcceptance.approved_by,
            RiskAcceptance.justification,
            RiskAcceptance.expires,
            RiskAcceptance.approved_on,
            RiskAcceptance.approver_role,
            RiskAcceptance.compensating_controls,
        )
        .join(Assessment, Assessment.id == RiskAcceptance.assessment_id)
        .join(Deployment, Deployment.id == Assessment.deployment_id)
        .join(Check, Check.id == RiskAcceptance.check_id)
        .where(RiskAcceptance.assessment_id.in_(assessment_ids))
        .order_by(RiskAcceptance.expires, Deployment.key, Check.key)
    ).all()
    out = []
    for dkey, dname, akey, assessed, check, by, why, expires, on, role, comp in rows:
        days = (expires - as_of).days
        approved = on or assessed
        state = "expired" if days < 0 else "not yet approved" if approved > as_of else "active"
        out.append(
            dict(
                deployment=dkey,
                deployment_name=dname,
                assessment=akey,
                check=check,
                approved_by=by,
                approver_role=role,
                approved_on=approved.isoformat(),
                approved_on_stated=on is not None,
                justification=why,
                compensating_controls=comp,
                expires=expires.isoformat(),
                days_left=days,
                counted_from=as_of.isoformat(),
                state=state,
                window=next((w for w in (30, 60, 90) if 0 <= days <= w), None),
            )
        )
    return out


def latest_assessments(
    session: Session, as_of: date, deployments: Sequence[str] | None = None
) -> list[tuple[Deployment, Assessment | None, Assessment | None]]:
    """For every deployment (or those named): the assessment in force at `as_of` (the latest
    dated on or before it; None when it has none then) and the one before that (None when
    there is none)."""
    ranked = latest_query(as_of, depth=2).subquery()
    q = (
        select(Deployment, Assessment, ranked.c.rn)
        .outerjoin(ranked, ranked.c.deployment_id == Deployment.id)
        .outerjoin(Assessment, Assessment.id == ranked.c.assessment_id)
        .order_by(Deployment.key, ranked.c.rn)
        # Portfolio views never read the imported deployment block; it loads on access if needed.
        .options(defer(Assessment.profile))
    )
    if deployments:
        q = q.where(Deployment.key.in_(deployments))
    out: dict[int, list[Any]] = {}
    for dep, a, rn in session.execute(q).all():
        if rn is None or rn == 1:
            out[dep.id] = [dep, a, None]
        elif dep.id in out:
            out[dep.id][2] = a
    return [(v[0], v[1], v[2]) for v in out.values()]


# Bounds that keep the posture summary at three pages whatever the portfolio's size; the
# workbook carries every row.
HEATMAP_ROWS = 12
LIST_ROWS = 12


def summary_report(
    session: Session,
    as_of: date,
    policy: LoadedPolicy,
    deployments: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The CISO's view of the whole portfolio as of `as_of`, bounded in size whatever the
    portfolio's size. Every deployment is decided as of `as_of`; "before" in the trend is the
    decision that was in force then: the previous assessment, decided as of its own date.
    Deployments with no assessment on or before `as_of` are listed as not assessed."""
    everything = latest_assessments(session, as_of, deployments)
    pairs = [(d, a, p) for d, a, p in everything if a is not None]
    unassessed = [d for d, a, _p in everything if a is None]
    latest_ids = [a.id for _d, a, _p in pairs]
    prev_ids = [p.id for _d, _a, p in pairs if p is not None]
    pinned: dict[int, list[int]] = defaultdict(list)
    for aid, cid in session.execute(
        select(AssessmentCatalog.assessment_id, AssessmentCatalog.catalog_id).where(
            AssessmentCatalog.assessment_id.in_(latest_ids + prev_ids)
        )
    ).all():
        pinned[aid].append(cid)
    catalog_ids = sorted({c for aid in latest_ids for c in pinned[aid]})
    fw_info = _frameworks(session, catalog_ids)
    # The previous assessments may have been made against older catalog versions.
    scored_catalogs = sorted({c for cids in pinned.values() for c in cids})
    groups = _top_groups(session, scored_catalogs)
    # Heat-map columns: (framework, group) in framework order, then in the order of the first
    # assessable control of each group.
    columns: list[tuple[str, str, str]] = []  # (framework, group ref, title)
    column_of: dict[tuple[str, str], int] = {}
    control_group: dict[int, int] = {}  # control id -> column index
    size: Counter[tuple[int, int]] = Counter()  # (catalog, column) -> assessable controls
    for cid, cat_id, fw in session.execute(
        select(Control.id, Catalog.id, Catalog.key)
        .join(Catalog, Catalog.id == Control.catalog_id)
        .where(
            Control.catalog_id.in_(scored_catalogs),
            Catalog.kind == "framework",
            Control.assessable.is_(True),
        )
        .order_by(Catalog.key, Control.position)
    ).all():
        g, title = groups[cid]
        if (fw, g) not in column_of:
            column_of[(fw, g)] = len(columns)
            columns.append((fw, g, title))
        control_group[cid] = column_of[(fw, g)]
        size[(cat_id, column_of[(fw, g)])] += 1
    # Group scores of every latest and previous assessment, aggregated in SQL: one row per
    # (assessment, column) rather than one per control.
    points: dict[int, dict[int, tuple[int, int, int, int]]] = defaultdict(dict)
    for aid, col, pts, counted, mapped, assessed in group_scores(
        session, latest_ids + prev_ids, control_group
    ):
        points[aid][col] = (int(pts), int(counted), int(mapped), int(assessed))

    def cells(aid: int) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        got = points.get(aid, {})
        for col in range(len(columns)):
            assessable = sum(size[(cat, col)] for cat in pinned[aid])
            if not assessable:
                out.append(None)  # no such framework in this assessment's catalogs
                continue
            pts, counted, mapped, assessed = got.get(col, (0, 0, 0, 0))
            out.append(
                dict(
                    score=pts / (2 * counted) if counted else None,
                    coverage=dict(assessable=assessable, mapped=mapped, assessed=assessed),
                )
            )
        return out

    def overall(aid: int) -> tuple[float | None, dict[str, int]]:
        got = points.get(aid, {}).values()
        counted = sum(c for _p, c, _m, _a in got)
        cov = dict(
            assessable=sum(size[(cat, col)] for cat in pinned[aid] for col in range(len(columns))),
            mapped=sum(m for _p, _c, m, _a in got),
            assessed=sum(x for _p, _c, _m, x in got),
        )
        return (sum(p for p, _c, _m, _a in got) / (2 * counted) if counted else None), cov

    latest = [a for _d, a, _p in pairs]
    previous = [p for _d, _a, p in pairs if p is not None]
    decisions = views.decide_many(session, latest, policy, as_of)
    # "Before" is the decision that was in force then: each previous assessment as of its date.
    decisions.update(
        views.decide_many(session, previous, policy, {p.id: p.assessed_on for p in previous})
    )

    rows: list[dict[str, Any]] = []
    failing: Counter[str] = Counter()
    conditional: Counter[str] = Counter()
    for dep, a, prev in pairs:
        d = decisions[a.id]
        failing.update(f.check for f in d.blockers if f.check)
        conditional.update(f.check for f in d.conditions if f.check)
        prev_d = decisions[prev.id] if prev else None
        score, cov = overall(a.id)
        rows.append(
            dict(
                **views.deployment_row(dep, a, d),
                score=score,
                coverage=cov,
                cells=cells(a.id),
                previous=None
                if prev is None or prev_d is None
                else dict(
                    assessment=prev.key,
                    date=prev.assessed_on.isoformat(),
                    decided_as_of=prev.assessed_on.isoformat(),
                    decision=prev_d.decision,
                    score=overall(prev.id)[0],
                ),
            )
        )
    rows.sort(
        key=lambda r: (
            DECISION_ORDER.index(r["decision"]),
            TIER_ORDER.index(r["tier"]) if r["tier"] in TIER_ORDER else 9,
            r["score"] if r["score"] is not None else 2,
            r["deployment"],
        )
    )
    by_tier: dict[str, dict[str, int]] = {t: {dcs: 0 for dcs in DECISION_ORDER} for t in TIER_ORDER}
    for r in rows:
        by_tier.setdefault(r["tier"], {dcs: 0 for dcs in DECISION_ORDER})[r["decision"]] += 1
    shown, rest = rows[:HEATMAP_ROWS], rows[HEATMAP_ROWS:]
    heat_rows = [
        dict(
            label=r["name"],
            deployment=r["deployment"],
            decision=r["decision"],
            tier=r["tier"],
            cells=r["cells"],
        )
        for r in shown
    ]
    if rest:
        agg: list[dict[str, Any] | None] = []
        for col in range(len(columns)):
            found = [r["cells"][col] for r in rest if r["cells"][col] is not None]
            scored = [c["score"] for c in found if c["score"] is not None]
            agg.append(
                None
                if not found
                else dict(
                    score=sum(scored) / len(scored) if scored else None,
                    coverage={
                        k: sum(c["coverage"][k] for c in found)
                        for k in ("assessable", "mapped", "assessed")
                    },
                )
            )
        heat_rows.append(
            dict(
                label=f"{len(rest)} other deployments (average)",
                deployment=None,
                decision=None,
                tier=None,
                cells=agg,
            )
        )
    # Top gaps: checks most often failing, partial or missing where required, across the portfolio.
    check_titles = dict(
        session.execute(
            select(Check.key, Check.title)
            .join(Catalog, Catalog.id == Check.catalog_id)
            .where(Catalog.is_current.is_(True))
        ).all()
    )
    ranked_checks = sorted(
        set(failing) | set(conditional), key=lambda k: (-failing[k], -conditional[k], k)
    )
    top_gaps = [
        dict(check=k, title=check_titles.get(k, k), blocking=failing[k], conditional=conditional[k])
        for k in ranked_checks[:10]
    ]
    trend = [
        dict(
            deployment=r["deployment"],
            name=r["name"],
            previous=r["previous"]["decision"],
            previous_assessment=r["previous"]["assessment"],
            previous_date=r["previous"]["date"],
            current=r["decision"],
            assessment=r["assessment"],
            score_delta=None
            if r["score"] is None or r["previous"]["score"] is None
            else r["score"] - r["previous"]["score"],
            direction=_direction(r["previous"]["decision"], r["decision"]),
        )
        for r in rows
        if r["previous"]
    ]
    trend.sort(
        key=lambda t: ({"worse": 0, "better": 1, "same": 2}[t["direction"]], t["deployment"])
    )
    acc = [x for x in _acceptances(session, latest_ids, as_of) if x["window"] is not None]
    decision_counts = Counter(r["decision"] for r in rows)
    return dict(
        kind="summary",
        title="Agent deployment posture",
        tool_version=__version__,
        generated_at=stamp(generated_at()),
        as_of=as_of.isoformat(),
        totals=dict(
            deployments=len(rows) + len(unassessed),
            assessed=len(rows),
            not_assessed=len(unassessed),
            **{k.lower(): decision_counts.get(k, 0) for k in DECISION_ORDER},
        ),
        by_tier=[
            dict(
                tier=t,
                **{k.lower(): v for k, v in by_tier[t].items()},
                total=sum(by_tier[t].values()),
            )
            for t in by_tier
        ],
        frameworks=list(fw_info.values()),
        heatmap=dict(
            columns=[dict(framework=fw, ref=g, title=t) for fw, g, t in columns], rows=heat_rows
        ),
        # Every deployment, with its scores aligned to the heat map's columns (the PDF shows the
        # riskiest few; the workbook lists them all).
        deployments=rows,
        not_assessed=[
            dict(deployment=d.key, name=d.name, owner=d.owner) for d in unassessed[:LIST_ROWS]
        ],
        top_gaps=top_gaps,
        trend=trend[:LIST_ROWS],
        trend_total=len(trend),
        expiring=dict(
            items=acc[:LIST_ROWS],
            total=len(acc),
            counted_from=as_of.isoformat(),
            counts={w: sum(1 for x in acc if x["days_left"] <= w) for w in (30, 60, 90)},
        ),
        policy=views.policy_json(policy),
        catalogs=[
            dict(id=f["id"], version=f["version"], sha256=f["sha256"]) for f in fw_info.values()
        ],
    )


def _direction(before: str | None, after: str) -> str:
    if before is None or before == after:
        return "same"
    return "better" if DECISION_ORDER.index(after) > DECISION_ORDER.index(before) else "worse"


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
