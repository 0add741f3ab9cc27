"""Lookups shared by the commands: deployments, their assessments and what was recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.errors import NotFound
from compliance.gate import Acceptance, CheckResult, Profile, Score, Tool
from compliance.store.db import fetch_rows
from compliance.store.models import (
    Assessment,
    Check,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
    SafetyScore,
)


def deployment(session: Session, key: str) -> Deployment:
    dep = session.execute(select(Deployment).where(Deployment.key == key)).scalar_one_or_none()
    if dep is None:
        raise NotFound(f"unknown deployment {key!r}")
    return dep


def assessment(
    session: Session, dep: Deployment, key: str | None = None, as_of: date | None = None
) -> Assessment:
    """The named assessment, or the one in force at `as_of`: the latest dated on or before it
    (by date, then by import order; see `store.rollup.latest_query`). An assessment dated
    after `as_of` does not exist yet at `as_of`: naming one is an error, as is having none."""
    q = select(Assessment).where(Assessment.deployment_id == dep.id)
    if key is not None:
        found = session.execute(q.where(Assessment.key == key)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"deployment {dep.key} has no assessment {key!r}")
        if as_of is not None and found.assessed_on > as_of:
            raise NotFound(
                f"assessment {key} of deployment {dep.key} is dated "
                f"{found.assessed_on.isoformat()}, after the as-of date {as_of.isoformat()}; "
                "it does not exist yet at that date"
            )
        return found
    if as_of is not None:
        q = q.where(Assessment.assessed_on <= as_of)
    latest = session.execute(
        q.order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is None:
        if as_of is not None:
            raise NotFound(
                f"deployment {dep.key} has no assessment dated on or before {as_of.isoformat()}; "
                "there is no decision as of that date"
            )
        raise NotFound(f"deployment {dep.key} has no assessment")
    return latest


def profile_of(a: Assessment) -> Profile:
    return Profile(
        tools=None if a.tools is None else tuple(Tool(t["name"], t["access"]) for t in a.tools),
        data=None if a.data_classes is None else tuple(a.data_classes),
        authority=tuple(a.authority or ()),
        autonomy=a.autonomy,
        customer_facing=bool(a.customer_facing),
        audit_logging=a.audit_logging,
        memory=a.memory,
        agents=None if a.agents is None else tuple(a.agents),
    )


@dataclass(frozen=True)
class GateInputs:
    profile: Profile
    results: dict[str, CheckResult]
    acceptances: list[Acceptance]
    scores: list[Score]
    assessed_on: date
    assessor: str


def gate_inputs(session: Session, a: Assessment) -> GateInputs:
    return gate_inputs_many(session, [a])[a.id]


def gate_inputs_many(session: Session, assessments: list[Assessment]) -> dict[int, GateInputs]:
    """Gate inputs of many assessments with four queries per chunk, not four per assessment."""
    by_id = {a.id: a for a in assessments}
    statuses: dict[int, dict[str, tuple[int, str, str | None]]] = {aid: {} for aid in by_id}
    evidence_dates: dict[int, list[date | None]] = {}
    accepted: dict[int, list[Acceptance]] = {aid: [] for aid in by_id}
    scores: dict[int, list[Score]] = {aid: [] for aid in by_id}
    ids = sorted(by_id)
    for start in range(0, len(ids), 10_000):
        part = ids[start : start + 10_000]
        # The largest (a row per check per assessment): plain driver rows.
        for rid, aid, key, status, notes in fetch_rows(
            session,
            select(Result.id, Result.assessment_id, Check.key, Result.status, Result.notes)
            .join(Check, Check.id == Result.check_id)
            .where(Result.assessment_id.in_(part)),
        ):
            statuses[aid][key] = (rid, status, notes)
        for rid, collected in session.execute(
            select(Evidence.result_id, Evidence.collected_on)
            .join(Result, Result.id == Evidence.result_id)
            .where(Result.assessment_id.in_(part), Result.status == "pass")
        ).all():
            evidence_dates.setdefault(rid, []).append(collected)
        for aid, key, by, why, exp, on, role in session.execute(
            select(
                RiskAcceptance.assessment_id,
                Check.key,
                RiskAcceptance.approved_by,
                RiskAcceptance.justification,
                RiskAcceptance.expires,
                RiskAcceptance.approved_on,
                RiskAcceptance.approver_role,
            )
            .join(Check, Check.id == RiskAcceptance.check_id)
            .where(RiskAcceptance.assessment_id.in_(part))
            .order_by(RiskAcceptance.assessment_id, RiskAcceptance.position)
        ).all():
            accepted[aid].append(Acceptance(key, by, why, exp, on, role))
        for aid, b, v, sc in session.execute(
            select(
                SafetyScore.assessment_id,
                SafetyScore.benchmark,
                SafetyScore.version,
                SafetyScore.score,
            )
            .where(SafetyScore.assessment_id.in_(part))
            .order_by(SafetyScore.assessment_id, SafetyScore.id)
        ).all():
            scores[aid].append(Score(b, v, sc))
    return {
        aid: GateInputs(
            profile_of(a),
            {
                key: CheckResult(status, notes, tuple(evidence_dates.get(rid, ())))
                for key, (rid, status, notes) in statuses[aid].items()
            },
            accepted[aid],
            scores[aid],
            a.assessed_on,
            a.assessor,
        )
        for aid, a in by_id.items()
    }
