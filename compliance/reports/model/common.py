"""What every view model shares: vocabularies, catalog and evidence look-ups, acceptances,
the assessments in force at a date, and the facts every report's header and footer carry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from compliance.dates import stamp
from compliance.gate import evidence_age
from compliance.policy import LoadedPolicy
from compliance.store.models import (
    Assessment,
    Catalog,
    Check,
    Control,
    Deployment,
    Evidence,
    RiskAcceptance,
)
from compliance.store.rollup import latest_query

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


def _direction(before: str | None, after: str) -> str:
    if before is None or before == after:
        return "same"
    return "better" if DECISION_ORDER.index(after) > DECISION_ORDER.index(before) else "worse"


# --------------------------------------------------------------------------------------------
# Words for values: reports show these, never the raw enumeration values.

VALUE_LABELS: dict[str, dict[str | None, str]] = {
    "autonomy": {
        "human_in_loop": "human in the loop (a person approves each action)",
        "human_on_loop": "human on the loop (a person supervises and can intervene)",
        "autonomous": "autonomous (no person in the loop)",
        None: "not stated",
    },
    "credentials": {
        "standing": "standing (long-lived) credentials",
        "short_lived": "short-lived credentials",
        "per_task": "per-task credentials",
        None: "credentials not stated",
    },
    "memory": {
        "none": "keeps nothing between tasks",
        "session": "keeps context for a session only",
        "persistent": "persistent memory across tasks",
        None: "not stated (SEC-03 is then required)",
    },
    "state": {"draft": "draft (not finalized)", "final": "final"},
    "method": {"examine": "examine", "interview": "interview", "test": "test"},
    "finding": {
        "profile": "Profile",
        "safety_score": "Safety score",
        "check": "Check",
        "acceptance": "Accepted risk",
        "stale_evidence": "Stale evidence",
        "reassessment": "Re-assessment",
    },
}

# What to do about a blocker or condition that is not a check, in the words of a plan.
FINDING_ACTIONS = {
    "profile": "State it in the deployment profile (an empty list means none) and re-import "
    "the assessment; a profile that leaves tools, data access or audit logging undefined "
    "cannot be approved.",
    "safety_score": "Re-evaluate with the model version in use, or move to a model that meets "
    "the tier minimum, and record the new score; a high score elsewhere never waives it.",
    "reassessment": "Re-assess the deployment and import the new assessment.",
    "stale_evidence": "Collect the evidence again and re-import the assessment with its "
    "collection date.",
}


def label(kind: str, value: str | None) -> str:
    """The words for an enumeration value (`human_on_loop` -> "human on the loop ...")."""
    return VALUE_LABELS.get(kind, {}).get(value, value if value is not None else "not stated")


def test_details(r: Any) -> dict[str, Any]:
    """How a result was tested, as the assessment file stated it (None where not stated)."""
    sample = None
    if r.sample_size is not None or r.sample_selection:
        sample = dict(size=r.sample_size, selection=r.sample_selection)
    remediation = None
    if r.remediation_owner or r.remediation_due:
        remediation = dict(
            owner=r.remediation_owner,
            due=r.remediation_due.isoformat() if r.remediation_due else None,
        )
    out = dict(
        method=list(r.method or []),
        tested_by=r.tested_by,
        tested_on=r.tested_on.isoformat() if r.tested_on else None,
        population=r.population,
        sample=sample,
        exceptions=r.exceptions,
        remediation=remediation,
    )
    out["stated"] = any(v for k, v in out.items() if k != "remediation")
    return out


NO_TEST_DETAILS: dict[str, Any] = dict(
    method=[],
    tested_by=None,
    tested_on=None,
    population=None,
    sample=None,
    exceptions=None,
    remediation=None,
    stated=False,
)


def drafts(pairs: Sequence[tuple[Deployment, Assessment]]) -> list[dict[str, Any]]:
    """The assessments a report rests on that are drafts: every page of it then says DRAFT."""
    return [
        dict(deployment=d.key, name=d.name, assessment=a.key, date=a.assessed_on.isoformat())
        for d, a in pairs
        if a.state != "final"
    ]


def due_of_gap(
    remediation_due: date | None,
    acceptance_expires: date | None,
    remediation_days: int | None,
    assessed_on: date,
) -> tuple[str | None, str]:
    """When a gap is due and on what basis: the result's own `remediation.due`, else the
    expiry of the risk acceptance covering it, else the tier's `remediation_days` counted
    from the assessment date (None when the policy sets no period)."""
    if remediation_due is not None:
        return remediation_due.isoformat(), "remediation due date stated in the assessment"
    if acceptance_expires is not None:
        return acceptance_expires.isoformat(), "expiry of the risk acceptance"
    if remediation_days is not None:
        due = assessed_on + timedelta(days=remediation_days)
        return (
            due.isoformat(),
            f"policy: {remediation_days} days from the assessment of {assessed_on.isoformat()}",
        )
    return None, "no due date: none stated and the policy sets no remediation period"
