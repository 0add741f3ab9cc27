"""The posture summary: the whole portfolio for the CISO, on a constant number of pages."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__, views
from compliance.dates import generated_at, stamp
from compliance.policy import LoadedPolicy
from compliance.reports.model.common import (
    DECISION_ORDER,
    TIER_ORDER,
    _acceptances,
    _direction,
    _frameworks,
    _top_groups,
    latest_assessments,
)
from compliance.store.models import AssessmentCatalog, Catalog, Check, Control
from compliance.store.rollup import group_scores

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


