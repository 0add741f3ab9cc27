"""The evidence report: one framework, control by control, for the auditor.

Three parts: every control across every deployment (one table per control, so an auditor
testing a control sees the whole portfolio at once), then each deployment control by control
with its results, how each was tested, its evidence and the risk acceptances beside the checks
they cover, then the register of results recorded as not applicable with their justifications.
"""

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
    NO_TEST_DETAILS,
    RESULT_LABELS,
    STATUS_LABELS,
    _acceptances,
    _evidence_for,
    _frameworks,
    _mark_freshness,
    drafts,
    latest_assessments,
    test_details,
)
from compliance.rollup import CONTROL_STATUSES, coverage, framework_score
from compliance.store import queries
from compliance.store.models import Assessment, Catalog, Check, Control, Deployment, Result
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
        select(Result, Check.key)
        .outerjoin(Check, Check.id == Result.check_id)
        .where(Result.assessment_id.in_(ids))
    ).all()
    evidence = _evidence_for(session, [r.id for r, _k in result_rows])
    by_check: dict[tuple[int, str], Result] = {
        (r.assessment_id, key): r for r, key in result_rows if key
    }
    by_control: dict[tuple[int, int], Result] = {
        (r.assessment_id, r.control_id): r for r, _key in result_rows if r.control_id
    }
    dep_of = {a.id: d.key for d, a, _p in pairs}
    direct_ref = dict(
        session.execute(
            select(Control.id, Catalog.key + "/" + Control.ref)
            .join(Catalog, Catalog.id == Control.catalog_id)
            .where(Control.id.in_({r.control_id for r, _k in result_rows if r.control_id}))
        ).all()
    )
    accepted: dict[tuple[str, str], dict[str, Any]] = {}
    for x in _acceptances(session, ids, as_of):
        held = accepted.get((x["deployment"], x["check"]))
        if held is None or (x["state"] == "active") >= (held["state"] == "active"):
            accepted[(x["deployment"], x["check"])] = x
    catalog_ids = sorted({s.catalog_id for s in statuses})
    fw = _frameworks(session, catalog_ids)
    sections = []
    per_aid: dict[int, list[ControlStatus]] = defaultdict(list)
    for s in statuses:
        per_aid[s.assessment_id].append(s)

    def result_of(r: Result | None) -> dict[str, Any]:
        return dict(
            status=r.status if r else None,
            status_label=RESULT_LABELS[r.status if r else None],
            notes=r.notes if r else None,
            test=test_details(r) if r else dict(NO_TEST_DETAILS),
            evidence=evidence.get(r.id, []) if r else [],
        )

    # Part 1: every control across every deployment, in catalog order.
    by_ref: dict[str, dict[str, Any]] = {}
    register: list[dict[str, Any]] = []
    for dep, a, _p in pairs:
        controls: list[dict[str, Any]] = []
        for s in per_aid.get(a.id, []):
            results: list[dict[str, Any]] = []
            if (a.id, s.control_id) in by_control:
                results.append(
                    dict(
                        target=f"{framework}/{s.ref}",
                        title=None,
                        kind="direct",
                        relationship=None,
                        rationale=None,
                        covering=None,
                        acceptance=None,
                        **result_of(by_control[(a.id, s.control_id)]),
                    )
                )
                _mark_freshness(results[-1]["evidence"], None, report_as_of, policy, a.assessed_on)
            for c in contrib.get((a.id, s.control_id), []):
                results.append(
                    dict(
                        target=c.check,
                        title=c.check_title,
                        kind="check",
                        relationship=c.relationship,
                        rationale=c.rationale,
                        covering=c.covering,
                        acceptance=accepted.get((dep.key, c.check)),
                        **result_of(by_check.get((a.id, c.check))),
                    )
                )
                _mark_freshness(
                    results[-1]["evidence"], c.check, report_as_of, policy, a.assessed_on
                )
            control = dict(
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
            controls.append(control)
            row = by_ref.setdefault(
                s.ref,
                dict(
                    control=f"{framework}/{s.ref}",
                    ref=s.ref,
                    title=s.title,
                    text=s.text,
                    nature=s.nature,
                    position=s.position,
                    deployments=[],
                ),
            )
            row["deployments"].append(
                dict(
                    deployment=dep.key,
                    name=dep.name,
                    assessment=a.key,
                    status=s.status,
                    status_label=STATUS_LABELS[s.status],
                    assessed=control["assessed"],
                    results=[
                        dict(
                            target=r["target"],
                            kind=r["kind"],
                            relationship=r["relationship"],
                            status=r["status"],
                            status_label=r["status_label"],
                            evidence=len(r["evidence"]),
                            accepted=bool(r["acceptance"] and r["acceptance"]["state"] == "active"),
                        )
                        for r in results
                    ],
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
    # Part 3: results recorded as not applicable in these assessments (every check, not only
    # those mapped to this framework: a register is whole or it is no register).
    never = set(policy.policy.not_applicable.never) if policy else set()
    for r, key in sorted(result_rows, key=lambda x: (dep_of[x[0].assessment_id], x[0].position)):
        if r.status != "not_applicable":
            continue
        target = key or direct_ref.get(r.control_id or 0, f"control {r.control_id}")
        justified = bool((r.notes or "").strip())
        refused = key in never
        register.append(
            dict(
                deployment=dep_of[r.assessment_id],
                target=target,
                justification=r.notes,
                counts=justified and not refused,
                why_not=(
                    f"the policy never lets {key} be not applicable: it counts as no result"
                    if refused
                    else None
                    if justified
                    else "no justification: it counts as no result"
                ),
            )
        )
    info = next(iter(fw.values()), dict(id=framework, name=framework, version="", sha256=""))
    return dict(
        kind="evidence",
        title=f"Evidence report: {info['name']}",
        drafts=drafts([(d, a) for d, a, _p in pairs]),
        tool_version=__version__,
        generated_at=stamp(generated_at()),
        as_of=as_of.isoformat(),
        framework=info,
        sections=sections,
        by_control=sorted(by_ref.values(), key=lambda c: c["position"]),
        not_applicable=register,
        not_assessed=[dict(deployment=d.key, name=d.name, owner=d.owner) for d in unassessed],
    )
