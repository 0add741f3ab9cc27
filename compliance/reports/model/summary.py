"""The posture summary: the whole portfolio for the CISO, on a constant number of pages."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from compliance import __version__, views
from compliance.dates import generated_at, stamp
from compliance.gate import Decision, Finding
from compliance.policy import LoadedPolicy
from compliance.reports.model.common import (
    DECISION_ORDER,
    TIER_ORDER,
    _acceptances,
    _direction,
    _frameworks,
    _top_groups,
    drafts,
    latest_assessments,
)
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    Catalog,
    Check,
    Control,
    Deployment,
)
from compliance.store.rollup import group_scores, latest_query

# Bounds that keep the posture summary at six pages whatever the portfolio's size; the
# workbook carries every row.
HEATMAP_ROWS = 10
LIST_ROWS = 12
BLOCKED_ROWS = 10  # each with its first two blockers: up to five lines a row
TREND_ROWS = 4  # under the quarterly chart and table: more would push the trend onto a second page
ATTENTION_ROWS = 6  # per list on the "needs attention" page


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
    # Blockers that are not about one check (profile, safety score, re-assessment), by kind.
    other_blockers: Counter[tuple[str, str]] = Counter()
    for dep, a, prev in pairs:
        d = decisions[a.id]
        failing.update(f.check for f in d.blockers if f.check)
        conditional.update(f.check for f in d.conditions if f.check)
        other_blockers.update(_blocker_key(f) for f in d.blockers if not f.check)
        prev_d = decisions[prev.id] if prev else None
        score, cov = overall(a.id)
        prev_score, prev_cov = overall(prev.id) if prev is not None else (None, None)
        rows.append(
            dict(
                **views.deployment_row(dep, a, d),
                business_process=dep.business_process,
                data=list(a.data_classes or []),
                score=score,
                coverage=cov,
                cells=cells(a.id),
                reasons=[dict(check=f.check, kind=f.kind, reason=f.reason) for f in d.blockers],
                condition_reasons=[
                    dict(check=f.check, kind=f.kind, reason=f.reason) for f in d.conditions
                ],
                reassessment_due=d.reassessment_due.isoformat() if d.reassessment_due else None,
                previous=None
                if prev is None or prev_d is None
                else dict(
                    assessment=prev.key,
                    date=prev.assessed_on.isoformat(),
                    decided_as_of=prev.assessed_on.isoformat(),
                    decision=prev_d.decision,
                    score=prev_score,
                    coverage=prev_cov,
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
                    # The average deployment's coverage, so that n/m reads as in the rows above.
                    coverage={
                        k: round(sum(c["coverage"][k] for c in found) / len(found))
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
    top_gaps: list[dict[str, Any]] = [
        dict(
            check=k,
            kind="check",
            title=check_titles.get(k, k),
            blocking=failing[k],
            conditional=conditional[k],
        )
        for k in ranked_checks
    ]
    # Blockers outside the checks take their place in the ranking, named by what they are.
    top_gaps += [
        dict(check=None, kind=kind, title=title, blocking=n, conditional=0)
        for (kind, title), n in other_blockers.items()
    ]
    top_gaps.sort(
        key=lambda g: (-int(g["blocking"]), -int(g["conditional"]), g["check"] or "", g["title"])
    )
    top_gaps = top_gaps[:10]
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
            score=r["score"],
            coverage=r["coverage"],
            previous_score=r["previous"]["score"],
            previous_coverage=r["previous"]["coverage"],
            direction=_direction(r["previous"]["decision"], r["decision"]),
        )
        for r in rows
        if r["previous"]
    ]
    trend.sort(
        key=lambda t: ({"worse": 0, "better": 1, "same": 2}[t["direction"]], t["deployment"])
    )
    every_acceptance = _acceptances(session, latest_ids, as_of)
    acc = [x for x in every_acceptance if x["window"] is not None]
    expired = [x for x in every_acceptance if x["state"] == "expired"]
    expired.sort(key=lambda x: (x["expires"], x["deployment"], x["check"]), reverse=True)
    # Expired and expiring acceptances share one table of ATTENTION_ROWS rows, expired first
    # (half of it when some are expiring too).
    expired_shown = expired[: ATTENTION_ROWS // 2] if acc else expired[:ATTENTION_ROWS]
    decision_counts = Counter(r["decision"] for r in rows)
    blocked = [
        dict(
            deployment=r["deployment"],
            name=r["name"],
            tier=r["tier"],
            owner=r["owner"],
            reasons=r["reasons"],
        )
        for r in rows
        if r["decision"] == "BLOCK"
    ]
    overdue = sorted(
        (
            dict(
                deployment=r["deployment"],
                name=r["name"],
                tier=r["tier"],
                assessment=r["assessment"],
                date=r["date"],
                due=r["reassessment_due"],
                days_overdue=(as_of - date.fromisoformat(r["reassessment_due"])).days,
            )
            for r in rows
            if r["reassessment_due"] and date.fromisoformat(r["reassessment_due"]) < as_of
        ),
        key=lambda x: (-x["days_overdue"], x["deployment"]),
    )
    stale = [
        dict(deployment=r["deployment"], name=r["name"], check=f["check"], reason=f["reason"])
        for r in rows
        for f in (*r["reasons"], *r["condition_reasons"])
        if f["kind"] == "stale_evidence"
    ]
    draft_rows = drafts([(d, a) for d, a, _p in pairs])
    return dict(
        kind="summary",
        title="Agent deployment posture",
        drafts=draft_rows,
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
        trend=trend[:TREND_ROWS],
        trend_total=len(trend),
        expiring=dict(
            items=acc[: ATTENTION_ROWS - len(expired_shown)],
            every=acc,  # the workbook's sheet
            total=len(acc),
            counted_from=as_of.isoformat(),
            counts={w: sum(1 for x in acc if x["days_left"] <= w) for w in (30, 60, 90)},
        ),
        blocked=dict(items=blocked[:BLOCKED_ROWS], total=len(blocked)),
        attention=dict(
            counted_from=as_of.isoformat(),
            overdue=dict(items=overdue[:ATTENTION_ROWS], total=len(overdue)),
            expired=dict(items=expired_shown, total=len(expired)),
            stale=dict(
                items=stale[:ATTENTION_ROWS],
                total=len(stale),
                deployments=len({x["deployment"] for x in stale}),
            ),
            drafts=dict(items=draft_rows[:LIST_ROWS], total=len(draft_rows)),
        ),
        risks=dict(
            by_process=_risks(rows, lambda r: [r["business_process"] or "not stated"]),
            by_owner=_risks(rows, lambda r: [r["owner"]]),
            by_data=_risks(rows, lambda r: r["data"] or ["none defined"]),
        ),
        history=_history(session, as_of, pairs, decisions, policy, deployments),
        policy=views.policy_json(policy),
        catalogs=[
            dict(id=f["id"], version=f["version"], sha256=f["sha256"]) for f in fw_info.values()
        ],
    )


def _blocker_key(f: Finding) -> tuple[str, str]:
    """A blocker that is not about one check, named by what it is (the same for every
    deployment it holds back)."""
    if f.kind == "safety_score":
        return f.kind, "Safety score missing or under the tier minimum"
    if f.kind == "profile":
        return f.kind, "Profile: " + f.reason.split(";")[0]
    if f.kind == "reassessment":
        return f.kind, "Re-assessment overdue"
    if f.kind == "stale_evidence":
        return f.kind, "Evidence stale"
    return f.kind, f.reason.split(";")[0]


RISK_ROWS = 6  # per grouping, so that the page count stays constant


def _risks(
    rows: list[dict[str, Any]], keys: Callable[[dict[str, Any]], list[str]]
) -> list[dict[str, Any]]:
    """Where the risk sits: per business process (owner, data class), the deployments, how many
    are blocked or conditional and the blockers they carry, riskiest first (a deployment
    reaching several data classes counts under each)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        for k in keys(r):
            g = out.setdefault(
                k, dict(group=k, deployments=0, block=0, conditional=0, approve=0, blockers=0)
            )
            g["deployments"] += 1
            g[r["decision"].lower()] += 1
            g["blockers"] += r["blockers"]
    ranked = sorted(
        out.values(), key=lambda g: (-g["block"], -g["blockers"], -g["conditional"], g["group"])
    )
    return ranked[:RISK_ROWS]


HISTORY_POINTS = 6  # the as-of date and the five quarter ends before it


def quarter_ends(as_of: date, count: int) -> list[date]:
    """The last day of each of the `count` quarters before the one holding `as_of`, oldest
    first."""
    year, q = as_of.year, (as_of.month - 1) // 3  # q: the current quarter, 0-based
    out = []
    for _ in range(count):
        q -= 1
        if q < 0:
            year, q = year - 1, 3
        first_next = date(year + (q == 3), 1 if q == 3 else 3 * q + 4, 1)
        out.append(first_next - timedelta(days=1))
    return out[::-1]


def quarter_label(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def _history(
    session: Session,
    as_of: date,
    pairs: list[tuple[Deployment, Assessment, Assessment | None]],
    decisions: dict[int, Decision],
    policy: LoadedPolicy,
    deployments: Sequence[str] | None,
) -> dict[str, Any]:
    """Decisions by tier at each of the last quarter ends and at the as-of date: a constant
    number of set-based queries (one per quarter end), each distinct assessment decided once.

    At a quarter end, each deployment counts with the decision that was in force then: its
    assessment in force at that date, decided as of its own date (never a re-decision)."""
    ends = quarter_ends(as_of, HISTORY_POINTS - 1)
    dep_filter = None
    if deployments:
        dep_filter = select(Deployment.id).where(Deployment.key.in_(deployments))
    in_force: dict[date, list[int]] = {}
    for end in ends:
        q = latest_query(end, depth=1).subquery()
        stmt = select(q.c.assessment_id)
        if dep_filter is not None:
            stmt = stmt.where(q.c.deployment_id.in_(dep_filter))
        in_force[end] = [aid for (aid,) in session.execute(stmt).all()]
    # Previous assessments were decided as of their own dates already (the trend's "before").
    past: dict[int, Decision] = {
        p.id: decisions[p.id] for _d, _a, p in pairs if p is not None and p.id in decisions
    }
    wanted = sorted({aid for ids in in_force.values() for aid in ids} - set(past))
    if wanted:
        found = (
            session.execute(
                select(Assessment)
                .where(Assessment.id.in_(wanted))
                .options(defer(Assessment.profile))
            )
            .scalars()
            .all()
        )
        past.update(
            views.decide_many(session, list(found), policy, {a.id: a.assessed_on for a in found})
        )

    def counts(ds: list[Decision]) -> dict[str, Any]:
        by = {t: {k: 0 for k in DECISION_ORDER} for t in TIER_ORDER}
        for d in ds:
            by.setdefault(d.tier, {k: 0 for k in DECISION_ORDER})[d.decision] += 1
        return dict(
            by_tier=[dict(tier=t, **{k.lower(): v for k, v in by[t].items()}) for t in by],
            total=len(ds),
            **{k.lower(): sum(1 for d in ds if d.decision == k) for k in DECISION_ORDER},
        )

    points = [
        dict(
            label=quarter_label(end),
            date=end.isoformat(),
            basis="in force at the quarter end, as decided on its assessment date",
            **counts([past[aid] for aid in in_force[end]]),
        )
        for end in ends
    ]
    points.append(
        dict(
            label=f"{quarter_label(as_of)} (as of {as_of.isoformat()})",
            date=as_of.isoformat(),
            basis="decided as of the report's as-of date",
            **counts([decisions[a.id] for _d, a, _p in pairs]),
        )
    )
    return dict(points=points, tiers=list(TIER_ORDER), decisions=list(DECISION_ORDER))
