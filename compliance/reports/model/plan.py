"""The GRC team's working plan for the portfolio: a plan of action and milestones (every open
gap with its owner, due date and status), the re-assessment calendar, the evidence to request
from each owner, and the register of results recorded as not applicable.

Set-based: a fixed number of batched queries whatever the portfolio's size; the lists are
whole (this is a working document, not a summary).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__, views
from compliance.dates import generated_at, stamp
from compliance.policy import LoadedPolicy
from compliance.reports.model.common import (
    FINDING_ACTIONS,
    RESULT_LABELS,
    TIER_ORDER,
    _acceptances,
    _evidence_for,
    _mark_freshness,
    drafts,
    due_of_gap,
    label,
)
from compliance.store.models import AssessmentCatalog, Catalog, Check, Result

PLAN_STATUSES = ("overdue", "blocks approval", "risk accepted", "open")
CALENDAR_WINDOWS = ((0, "overdue"), (30, "due within 30 days"), (90, "due within 90 days"))


def _calendar_state(days_left: int) -> str:
    for limit, name in CALENDAR_WINDOWS:
        if days_left < limit or (limit and days_left <= limit):
            return name
    return "later"


def plan_report(
    session: Session,
    as_of: date,
    policy: LoadedPolicy,
    deployments: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Plan of action and milestones, re-assessment calendar, evidence requests and the
    not-applicable register for the assessments in force at `as_of`."""
    from compliance.reports.model.common import latest_assessments

    everything = latest_assessments(session, as_of, deployments)
    pairs = [(d, a) for d, a, _p in everything if a is not None]
    unassessed = [d for d, a, _p in everything if a is None]
    ids = [a.id for _d, a in pairs]
    decisions = views.decide_many(session, [a for _d, a in pairs], policy, as_of)
    # The checks catalog each assessment was made against, and its checks.
    checks_cat = dict(
        session.execute(
            select(AssessmentCatalog.assessment_id, Catalog.id)
            .join(Catalog, Catalog.id == AssessmentCatalog.catalog_id)
            .where(AssessmentCatalog.assessment_id.in_(ids), Catalog.kind == "checks")
        ).all()
    )
    check_info: dict[tuple[int, str], Check] = {
        (c.catalog_id, c.key): c
        for c in session.execute(
            select(Check).where(Check.catalog_id.in_(set(checks_cat.values())))
        ).scalars()
    }
    results: dict[int, dict[str, Result]] = defaultdict(dict)
    for res, key in session.execute(
        select(Result, Check.key)
        .join(Check, Check.id == Result.check_id)
        .where(Result.assessment_id.in_(ids))
    ).all():
        results[res.assessment_id][key] = res
    evidence = _evidence_for(session, [r.id for rs in results.values() for r in rs.values()])
    accepted: dict[tuple[str, str], dict[str, Any]] = {}
    for x in _acceptances(session, ids, as_of):
        held = accepted.get((x["deployment"], x["check"]))
        if held is None or (x["state"] == "active") >= (held["state"] == "active"):
            accepted[(x["deployment"], x["check"])] = x
    never = set(policy.policy.not_applicable.never)

    actions: list[dict[str, Any]] = []
    calendar: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    register: list[dict[str, Any]] = []
    for dep, a in pairs:
        d = decisions[a.id]
        tier_def = policy.policy.tier(d.tier)
        blocking = {f.check for f in d.blockers if f.check}
        conditions = {f.check: f for f in d.conditions if f.check}
        reasons = {f.check: f.reason for f in (*d.blockers, *d.conditions) if f.check}
        required = set(d.required_checks)
        na_ok = {n.check for n in d.not_applicable}
        cat = checks_cat.get(a.id)
        base = dict(
            deployment=dep.key,
            name=dep.name,
            tier=d.tier,
            assessment=a.key,
            decision=d.decision,
            owner=dep.owner,
        )

        def item(
            target: str,
            title: str,
            result: str | None,
            gap: str,
            action: str,
            owner: str | None,
            due: tuple[str | None, str],
            effect: str,
            base: dict[str, Any] = base,
        ) -> dict[str, Any]:
            due_on, basis = due
            days = (date.fromisoformat(due_on) - as_of).days if due_on else None
            status = (
                "overdue"
                if days is not None and days < 0
                else effect
                if effect in ("blocks approval", "risk accepted")
                else "open"
            )
            return dict(
                base,
                item=target,
                title=title,
                result=result,
                result_label=RESULT_LABELS.get(result, result) if result else "No result",
                gap=gap,
                action=action,
                owner=owner or base["owner"],
                due=due_on,
                due_basis=basis,
                days_left=days,
                effect=effect,
                status=status,
            )

        for f in d.blockers:
            if f.check is None:
                actions.append(
                    item(
                        label("finding", f.kind),
                        "Decision blocker outside the checks",
                        None,
                        f.reason,
                        FINDING_ACTIONS.get(f.kind, ""),
                        dep.owner,
                        due_of_gap(None, None, tier_def.remediation_days, a.assessed_on),
                        "blocks approval",
                    )
                )
        for key in [*d.required_checks, *sorted(set(results[a.id]) - required)]:
            r: Result | None = results[a.id].get(key)
            info = check_info.get((cat, key)) if cat is not None else None
            title = info.title if info else key
            status = r.status if r else None
            if status == "pass" or (
                status == "not_applicable" and (key in na_ok or key not in required)
            ):
                continue
            if status is None and key not in required:
                continue
            acc = accepted.get((dep.key, key))
            active = acc if acc and acc["state"] == "active" else None
            effect = (
                "blocks approval"
                if key in blocking
                else "risk accepted"
                if key in conditions
                else "required"
                if key in required
                else "not required at this tier"
            )
            actions.append(
                item(
                    key,
                    title,
                    status,
                    reasons.get(key) or (r.notes if r and r.notes else "") or "",
                    info.remediation if info else "",
                    r.remediation_owner if r else None,
                    due_of_gap(
                        r.remediation_due if r else None,
                        date.fromisoformat(active["expires"]) if active else None,
                        tier_def.remediation_days,
                        a.assessed_on,
                    ),
                    effect,
                )
            )
        # Re-assessment calendar.
        due = d.reassessment_due
        days_left = (due - as_of).days if due else None
        calendar.append(
            dict(
                **base,
                date=a.assessed_on.isoformat(),
                state=a.state,
                due=due.isoformat() if due else None,
                days_left=days_left,
                window=_calendar_state(days_left) if days_left is not None else "no period set",
                period_days=tier_def.reassessment_days,
            )
        )
        # Evidence to request: what is missing or stale, for the required checks.
        needed_by = due.isoformat() if due and due >= as_of else as_of.isoformat()
        for key in d.required_checks:
            r = results[a.id].get(key)
            info = check_info.get((cat, key)) if cat is not None else None
            owner = (r.remediation_owner if r else None) or dep.owner
            what = info.evidence_guidance if info else ""
            req = dict(  # the owner of the remediation, else of the deployment
                base,
                owner=owner,
                check=key,
                title=info.title if info else key,
                evidence_wanted=what,
                needed_by=needed_by,
            )
            if r is None or (r.status == "not_applicable" and key not in na_ok):
                requests.append(
                    dict(
                        req,
                        why="missing",
                        detail="no result recorded for a required check"
                        if r is None
                        else "recorded as not applicable, which does not count",
                    )
                )
                continue
            if r.status == "not_applicable":
                continue
            items = evidence.get(r.id, [])
            _mark_freshness(items, key, as_of, policy, a.assessed_on)
            if not items and r.status == "pass":
                requests.append(
                    dict(req, why="missing", detail="passed with no evidence on record")
                )
            for e in items:
                if e["stale"]:
                    requests.append(
                        dict(
                            req,
                            why="stale",
                            detail=f"{e['name']}: {e['age_days']} days old at {as_of.isoformat()} "
                            f"(counted from the {'collection date' if e['age_from'] == 'collected' else 'assessment date, no collection date stated'}); "
                            f"the policy allows {e['max_age_days']}",
                        )
                    )
        # Not-applicable register.
        for key, na in results[a.id].items():
            if na.status != "not_applicable":
                continue
            info = check_info.get((cat, key)) if cat is not None else None
            justified = bool((na.notes or "").strip())
            register.append(
                dict(
                    **base,
                    check=key,
                    title=info.title if info else key,
                    justification=na.notes,
                    required=key in required,
                    counts=justified and key not in never,
                    why_not=f"the policy never lets {key} be not applicable: it counts as no result"
                    if key in never
                    else None
                    if justified
                    else "no justification: it counts as no result",
                )
            )
    order = {s: i for i, s in enumerate(PLAN_STATUSES)}
    actions.sort(
        key=lambda x: (
            order.get(x["status"], 9),
            x["due"] or "9999",
            TIER_ORDER.index(x["tier"]) if x["tier"] in TIER_ORDER else 9,
            x["deployment"],
            x["item"],
        )
    )
    calendar.sort(key=lambda x: (x["due"] or "9999", x["deployment"]))
    by_owner: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rq in requests:
        by_owner[rq["owner"]].append(rq)
    return dict(
        kind="plan",
        title="Plan of action and milestones",
        drafts=drafts(pairs),
        tool_version=__version__,
        generated_at=stamp(generated_at()),
        as_of=as_of.isoformat(),
        counted_from=as_of.isoformat(),
        policy=views.policy_json(policy),
        remediation_days={t.id: t.remediation_days for t in policy.policy.tiers},
        reassessment_days={t.id: t.reassessment_days for t in policy.policy.tiers},
        totals=dict(
            deployments=len(pairs) + len(unassessed),
            assessed=len(pairs),
            actions=len(actions),
            **{
                s.replace(" ", "_"): sum(1 for x in actions if x["status"] == s)
                for s in PLAN_STATUSES
            },
            requests=len(requests),
            not_applicable=len(register),
        ),
        actions=actions,
        calendar=calendar,
        requests=[
            dict(owner=o, items=items, count=len(items)) for o, items in sorted(by_owner.items())
        ],
        not_applicable=register,
        not_assessed=[dict(deployment=d.key, name=d.name, owner=d.owner) for d in unassessed],
    )
