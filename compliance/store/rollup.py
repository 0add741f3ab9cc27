"""Rolling check results up onto framework controls, set-based in SQL.

For every assessment asked for, every assessable control of the catalogs that assessment was made
against gets a status from the results of the checks mapped to it (see `compliance.rollup` for the
rule stated in Python); a result recorded directly on a control overrides the roll-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.orm import Session, aliased

from compliance.rollup import ASSESSED_STATUSES, COVERING, DIRECT_STATUS
from compliance.store.db import fetch_rows
from compliance.store.models import (
    Assessment,
    AssessmentCatalog,
    Catalog,
    Check,
    Control,
    Mapping,
    Result,
    SufficientSet,
    SufficientSetCheck,
)


@dataclass(frozen=True)
class ControlStatus:
    assessment_id: int
    framework: str
    catalog_id: int
    control_id: int
    ref: str
    kind: str
    parent_ref: str | None
    title: str | None
    text: str | None
    position: int
    status: str
    source: str  # "rollup" or "direct"
    mapped: int
    direct_status: str | None
    direct_notes: str | None
    nature: str = "requirement"


@dataclass(frozen=True)
class Contribution:
    assessment_id: int
    control_id: int
    check: str
    check_title: str
    relationship: str
    status: str | None
    rationale: str
    covering: bool  # a pass covers the control alone, or with its declared sufficient set


Scope = Sequence[int] | Select[Any]  # assessment ids, or a SELECT of them


def _in_sufficient_set(assessment_id: Any) -> ColumnElement[bool]:
    """Whether the mapping's check belongs to a set of checks that a data file in force for the
    assessment declares sufficient, together, to cover the mapping's control."""
    decl_cat = aliased(AssessmentCatalog)
    return (
        exists()
        .where(
            SufficientSetCheck.check_id == Mapping.check_id,
            SufficientSet.id == SufficientSetCheck.set_id,
            SufficientSet.control_id == Mapping.control_id,
            decl_cat.catalog_id == SufficientSet.catalog_id,
            decl_cat.assessment_id == assessment_id,
        )
        .correlate(Mapping)
    )


def _mapped_results(assessment_ids: Scope, with_rationale: bool = False) -> Select[Any]:
    """(assessment, control, check, relationship, check status, covering) for every mapping in
    force for each assessment; `covering` is 1 when a pass of this check covers the whole
    control, alone (`equal`, `superset`) or in a declared sufficient set (see
    `compliance.rollup.covers`)."""
    check_cat = aliased(AssessmentCatalog)
    map_cat = aliased(AssessmentCatalog)
    covering = case(
        (Mapping.relationship.in_(COVERING), literal(1)),
        (_in_sufficient_set(check_cat.assessment_id), literal(1)),
        else_=literal(0),
    )
    extra = [Mapping.rationale.label("rationale")] if with_rationale else []
    return (
        select(
            check_cat.assessment_id.label("assessment_id"),
            Mapping.control_id.label("control_id"),
            Mapping.check_id.label("check_id"),
            Mapping.relationship.label("relationship"),
            Result.status.label("status"),
            covering.label("covering"),
            *extra,
        )
        .join(Check, Check.id == Mapping.check_id)
        .join(check_cat, check_cat.catalog_id == Check.catalog_id)
        .join(
            map_cat,
            and_(
                map_cat.catalog_id == Mapping.catalog_id,
                map_cat.assessment_id == check_cat.assessment_id,
            ),
        )
        .outerjoin(
            Result,
            and_(
                Result.assessment_id == check_cat.assessment_id, Result.check_id == Mapping.check_id
            ),
        )
        .where(check_cat.assessment_id.in_(assessment_ids))
    )


def _direct_status(direct: Any) -> ColumnElement[str]:
    """The control status a result recorded directly on a control gives it (NULL: none)."""
    return case(
        *((direct.status == result, literal(status)) for result, status in DIRECT_STATUS.items())
    )


def _rolled_status(
    agg: Any, n: ColumnElement[int], na: ColumnElement[int], nature: Any
) -> ColumnElement[str]:
    """The status `compliance.rollup.rollup_status` gives a control from the counts of
    `_mapped_counts` (`n` and `na` passed in, so that a caller joining outer can default them)
    and the control's nature."""
    considered = n - na
    return case(
        (n == 0, literal("unmapped")),
        (considered == 0, literal("not_applicable")),
        (agg.c.fail > 0, literal("gap")),
        (agg.c.none == considered, literal("not_assessed")),
        (
            and_(agg.c.ok == considered, or_(nature == "threat", agg.c.cover > 0)),
            literal("met"),
        ),
        else_=literal("partial"),
    )


def _count(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


IDS_PER_QUERY = 10_000  # assessment ids per statement, inside every backend's parameter limit


@dataclass(frozen=True)
class ControlInfo:
    framework: str
    catalog_id: int
    ref: str
    kind: str
    parent_ref: str | None
    title: str | None
    text: str | None
    position: int
    nature: str


def _mapped_counts(assessment_ids: Scope) -> Select[Any]:
    """Per (assessment, control with a mapping in force): how many checks are mapped to it, and
    how many of their results are not applicable, fail, pass or missing."""
    m = _mapped_results(assessment_ids).subquery("m")
    return select(
        m.c.assessment_id,
        m.c.control_id,
        func.count(m.c.check_id).label("n"),
        _count(m.c.status == "not_applicable").label("na"),
        _count(m.c.status == "fail").label("fail"),
        _count(m.c.status == "pass").label("ok"),
        _count(m.c.status.is_(None)).label("none"),
        _count(and_(m.c.status == "pass", m.c.covering == 1)).label("cover"),
    ).group_by(m.c.assessment_id, m.c.control_id)


def _matrix_query(
    assessment_ids: Scope, framework: str | None, ordered: bool = True
) -> Select[Any]:
    """(assessment, control, status, source, mapped count, direct status, direct notes) rows."""
    # Aggregate the mapped results per (assessment, control) first: the join with the controls
    # below then needs no grouping, and no wide columns travel through a sort.
    agg = _mapped_counts(assessment_ids).subquery("agg")
    n = func.coalesce(agg.c.n, 0)
    rolled = _rolled_status(agg, n, func.coalesce(agg.c.na, 0), Control.nature)
    direct = aliased(Result)
    direct_status = _direct_status(direct)
    ac = aliased(AssessmentCatalog)
    q = (
        select(
            ac.assessment_id.label("assessment_id"),
            Control.id.label("control_id"),
            func.coalesce(direct_status, rolled).label("status"),
            case((direct.status.is_(None), literal("rollup")), else_=literal("direct")).label(
                "source"
            ),
            func.cast(n, Integer).label("mapped"),
            direct.status.label("direct_status"),
            direct.notes.label("direct_notes"),
        )
        .select_from(ac)
        .join(Catalog, and_(Catalog.id == ac.catalog_id, Catalog.kind == "framework"))
        .join(Control, and_(Control.catalog_id == Catalog.id, Control.assessable.is_(True)))
        .outerjoin(
            agg, and_(agg.c.assessment_id == ac.assessment_id, agg.c.control_id == Control.id)
        )
        .outerjoin(
            direct, and_(direct.assessment_id == ac.assessment_id, direct.control_id == Control.id)
        )
        .where(ac.assessment_id.in_(assessment_ids))
    )
    if ordered:
        q = q.order_by(ac.assessment_id, Catalog.key, Control.position)
    if framework is not None:
        q = q.where(Catalog.key == framework)
    return q


def status_matrix(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[tuple[int, int, str, str, int, str | None, str | None]]:
    """The portfolio gap matrix: one row per (assessment, assessable control), as plain tuples
    (assessment id, control id, status, source, mapped checks, direct status, direct notes),
    ordered by assessment, framework and control position."""
    out: list[tuple[int, int, str, str, int, str | None, str | None]] = []
    ids = sorted(set(assessment_ids))
    for start in range(0, len(ids), IDS_PER_QUERY):
        part = ids[start : start + IDS_PER_QUERY]
        out.extend(fetch_rows(session, _matrix_query(part, framework)))
    return out


def latest_query(as_of: date, depth: int = 1) -> Select[Any]:
    """(deployment id, assessment id, rank) of each deployment's `depth` latest assessments dated
    on or before `as_of`, rank 1 being the one in force at `as_of` (the latest by assessment
    date, then by id). An assessment dated after `as_of` does not exist yet at `as_of`. This is
    the rule of `compliance.gate.assessment_at`, in SQL."""
    ranked = select(
        Assessment.deployment_id.label("deployment_id"),
        Assessment.id.label("assessment_id"),
        func.row_number()
        .over(
            partition_by=Assessment.deployment_id,
            order_by=(Assessment.assessed_on.desc(), Assessment.id.desc()),
        )
        .label("rn"),
    ).where(Assessment.assessed_on <= as_of)
    sub = ranked.subquery("ranked")
    return select(sub.c.deployment_id, sub.c.assessment_id, sub.c.rn).where(sub.c.rn <= depth)


def group_scores(
    session: Session, assessment_ids: Sequence[int], groups: dict[int, int]
) -> list[tuple[int, int, int, int, int, int]]:
    """Score inputs per (assessment, group of controls), aggregated in SQL rather than fetched
    control by control: rows of (assessment id, group, points, counted, mapped, assessed), where
    `groups` maps assessable control ids to group numbers, points are 2 per met and 1 per
    partial control, counted is the number of controls neither not applicable nor unmapped (a
    group's score, as `compliance.rollup.framework_score`, is points / (2 x counted)), mapped
    the number not unmapped and assessed the number whose status rests on a result (as
    `compliance.rollup.coverage`). Controls missing from `groups` are left out.

    Unmapped controls count for nothing, so only controls with a mapped check or a direct
    result are visited: about half of the full matrix's cells.
    """
    if not assessment_ids or not groups:
        return []
    gmap = (
        values(column("control_id", Integer), column("grp", Integer), name="control_groups")
        .data(sorted(groups.items()))
        .cte("control_groups")  # a CTE: SQLite cannot alias a VALUES list's columns
    )
    out: list[tuple[int, int, int, int, int, int]] = []
    ids = sorted(set(assessment_ids))
    for start in range(0, len(ids), IDS_PER_QUERY):
        part = ids[start : start + IDS_PER_QUERY]
        agg = _mapped_counts(part).cte("agg")
        target = aliased(Control)
        rolled = _rolled_status(agg, agg.c.n, agg.c.na, target.nature)
        direct = aliased(Result)
        mapped_cells = (
            select(
                agg.c.assessment_id,
                agg.c.control_id,
                func.coalesce(_direct_status(direct), rolled).label("status"),
            )
            .join(target, target.id == agg.c.control_id)
            .outerjoin(
                direct,
                and_(
                    direct.assessment_id == agg.c.assessment_id,
                    direct.control_id == agg.c.control_id,
                ),
            )
        )
        only = aliased(Result)
        direct_only = select(
            only.assessment_id, only.control_id, _direct_status(only).label("status")
        ).where(
            only.assessment_id.in_(part),
            only.status.in_(tuple(DIRECT_STATUS)),
            only.control_id.is_not(None),
            ~exists().where(
                agg.c.assessment_id == only.assessment_id, agg.c.control_id == only.control_id
            ),
        )
        cells = union_all(mapped_cells, direct_only).subquery("cells")
        pinned = aliased(AssessmentCatalog)
        points = func.sum(
            case((cells.c.status == "met", 2), (cells.c.status == "partial", 1), else_=0)
        )
        counted = func.sum(case((cells.c.status == "not_applicable", 0), else_=1))
        mapped = func.count()
        assessed = func.sum(case((cells.c.status.in_(ASSESSED_STATUSES), 1), else_=0))
        q = (
            select(cells.c.assessment_id, gmap.c.grp, points, counted, mapped, assessed)
            .join(gmap, gmap.c.control_id == cells.c.control_id)
            .join(Control, Control.id == cells.c.control_id)
            .join(  # only controls of the frameworks the assessment was made against
                pinned,
                and_(
                    pinned.assessment_id == cells.c.assessment_id,
                    pinned.catalog_id == Control.catalog_id,
                ),
            )
            .group_by(cells.c.assessment_id, gmap.c.grp)
        )
        out.extend(fetch_rows(session, q))
    return out


@dataclass(frozen=True)
class PortfolioMatrix:
    """The gap matrix of a portfolio: every deployment's latest assessment x every assessable
    control of the frameworks it was assessed against."""

    rows: list[tuple[int, int, str, str, int, str | None, str | None]]  # as `status_matrix`
    controls: dict[int, ControlInfo]


def portfolio_matrix(
    session: Session, as_of: date, framework: str | None = None
) -> PortfolioMatrix:
    """The whole portfolio's gap matrix at `as_of` in one statement: the assessments in force are
    chosen in SQL, not passed in, and rows come back as driver tuples."""
    latest = latest_query(as_of).subquery("latest")
    rows = fetch_rows(session, _matrix_query(select(latest.c.assessment_id), framework))
    return PortfolioMatrix(rows, control_info(session, {r[1] for r in rows}))


def control_info(session: Session, control_ids: Iterable[int]) -> dict[int, ControlInfo]:
    """Framework, ref, title and text of controls, fetched once rather than per assessment."""
    wanted = sorted(set(control_ids))
    info: dict[int, ControlInfo] = {}
    for start in range(0, len(wanted), IDS_PER_QUERY):
        part = wanted[start : start + IDS_PER_QUERY]
        for cid, fw, cat_id, ref, kind, parent, title, text, pos, nature in session.execute(
            select(
                Control.id,
                Catalog.key,
                Catalog.id,
                Control.ref,
                Control.kind,
                Control.parent_ref,
                Control.title,
                Control.text,
                Control.position,
                Control.nature,
            )
            .join(Catalog, Catalog.id == Control.catalog_id)
            .where(Control.id.in_(part))
        ).all():
            info[cid] = ControlInfo(fw, cat_id, ref, kind, parent, title, text, pos, nature)
    return info


def control_statuses(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[ControlStatus]:
    """Status of every assessable control for each assessment, ordered by framework and position."""
    if not assessment_ids:
        return []
    rows = status_matrix(session, assessment_ids, framework)
    return as_control_statuses(rows, control_info(session, {r[1] for r in rows}))


def as_control_statuses(
    rows: Iterable[tuple[int, int, str, str, int, str | None, str | None]],
    info: dict[int, ControlInfo],
) -> list[ControlStatus]:
    """`status_matrix` rows with each control's framework, ref and texts."""
    out = []
    for aid, cid, status, source, mapped, d_status, d_notes in rows:
        c = info[cid]
        out.append(
            ControlStatus(
                aid,
                c.framework,
                c.catalog_id,
                cid,
                c.ref,
                c.kind,
                c.parent_ref,
                c.title,
                c.text,
                c.position,
                status,
                source,
                mapped,
                d_status,
                d_notes,
                c.nature,
            )
        )
    return out


def contributions(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[Contribution]:
    """Every check mapped to each control, with its status, for the `why` behind a status."""
    if not assessment_ids:
        return []
    m = _mapped_results(assessment_ids, with_rationale=True).subquery("m")
    q = (
        select(
            m.c.assessment_id,
            m.c.control_id,
            Check.key,
            Check.title,
            m.c.relationship,
            m.c.status,
            m.c.rationale,
            m.c.covering,
        )
        .join(Check, Check.id == m.c.check_id)
        .join(Control, Control.id == m.c.control_id)
        .order_by(m.c.assessment_id, m.c.control_id, Check.position)
    )
    if framework is not None:
        q = q.join(Catalog, Catalog.id == Control.catalog_id).where(Catalog.key == framework)
    return [
        Contribution(aid, cid, key, title, rel, status, rationale, bool(covering))
        for aid, cid, key, title, rel, status, rationale, covering in session.execute(q).all()
    ]
