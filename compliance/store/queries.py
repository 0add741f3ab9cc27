"""Lookups shared by the commands: deployments, their assessments and what was recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.errors import NotFound
from compliance.gate import Acceptance, Profile, Score, Tool
from compliance.store.db import fetch_rows
from compliance.store.models import (
    Assessment,
    Check,
    Deployment,
    Result,
    RiskAcceptance,
    SafetyScore,
)


def deployment(session: Session, key: str) -> Deployment:
    dep = session.execute(select(Deployment).where(Deployment.key == key)).scalar_one_or_none()
    if dep is None:
        raise NotFound(f"unknown deployment {key!r}")
    return dep


def assessment(session: Session, dep: Deployment, key: str | None = None) -> Assessment:
    """The named assessment, or the latest (by date, then by import order)."""
    q = select(Assessment).where(Assessment.deployment_id == dep.id)
    if key is not None:
        found = session.execute(q.where(Assessment.key == key)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"deployment {dep.key} has no assessment {key!r}")
        return found
    latest = session.execute(
        q.order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)
    ).scalar_one_or_none()
    if latest is None:
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
    )


@dataclass(frozen=True)
class GateInputs:
    profile: Profile
    results: dict[str, str]
    acceptances: list[Acceptance]
    scores: list[Score]


def gate_inputs(session: Session, a: Assessment) -> GateInputs:
    results = dict(
        session.execute(
            select(Check.key, Result.status)
            .join(Check, Check.id == Result.check_id)
            .where(Result.assessment_id == a.id)
        ).all()
    )
    acceptances = [
        Acceptance(key, by, why, exp)
        for key, by, why, exp in session.execute(
            select(
                Check.key,
                RiskAcceptance.approved_by,
                RiskAcceptance.justification,
                RiskAcceptance.expires,
            )
            .join(Check, Check.id == RiskAcceptance.check_id)
            .where(RiskAcceptance.assessment_id == a.id)
            .order_by(RiskAcceptance.position)
        )
    ]
    scores = [
        Score(b, v, s)
        for b, v, s in session.execute(
            select(SafetyScore.benchmark, SafetyScore.version, SafetyScore.score)
            .where(SafetyScore.assessment_id == a.id)
            .order_by(SafetyScore.id)
        )
    ]
    return GateInputs(profile_of(a), results, acceptances, scores)


def gate_inputs_many(session: Session, assessments: list[Assessment]) -> dict[int, GateInputs]:
    """Gate inputs of many assessments with three queries per chunk, not three per assessment."""
    by_id = {a.id: a for a in assessments}
    results: dict[int, dict[str, str]] = {aid: {} for aid in by_id}
    accepted: dict[int, list[Acceptance]] = {aid: [] for aid in by_id}
    scores: dict[int, list[Score]] = {aid: [] for aid in by_id}
    ids = sorted(by_id)
    for start in range(0, len(ids), 10_000):
        part = ids[start : start + 10_000]
        # The largest of the three (a row per check per assessment): plain driver rows.
        for aid, key, status in fetch_rows(
            session,
            select(Result.assessment_id, Check.key, Result.status)
            .join(Check, Check.id == Result.check_id)
            .where(Result.assessment_id.in_(part)),
        ):
            results[aid][key] = status
        for aid, key, by, why, exp in session.execute(
            select(
                RiskAcceptance.assessment_id,
                Check.key,
                RiskAcceptance.approved_by,
                RiskAcceptance.justification,
                RiskAcceptance.expires,
            )
            .join(Check, Check.id == RiskAcceptance.check_id)
            .where(RiskAcceptance.assessment_id.in_(part))
            .order_by(RiskAcceptance.assessment_id, RiskAcceptance.position)
        ).all():
            accepted[aid].append(Acceptance(key, by, why, exp))
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
        aid: GateInputs(profile_of(a), results[aid], accepted[aid], scores[aid])
        for aid, a in by_id.items()
    }


def as_of_default(a: Assessment, as_of: date | None) -> date:
    return as_of or a.assessed_on
