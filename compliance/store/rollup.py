"""Rolling check results up onto framework controls, set-based in SQL.

For every assessment asked for, every assessable control of the catalogs that assessment was made
against gets a status from the results of the checks mapped to it (see `compliance.rollup` for the
rule stated in Python); a result recorded directly on a control overrides the roll-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from compliance.store.models import AssessmentCatalog, Catalog, Check, Control, Mapping, Result


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


@dataclass(frozen=True)
class Contribution:
    assessment_id: int
    control_id: int
    check: str
    check_title: str
    relationship: str
    status: str | None


def _mapped_results(assessment_ids: Sequence[int]) -> Select[int, int, int, str, str]:
    """(assessment, control, check status) for every mapping in force for each assessment."""
    check_cat = aliased(AssessmentCatalog)
    map_cat = aliased(AssessmentCatalog)
    return (
        select(
            check_cat.assessment_id.label("assessment_id"),
            Mapping.control_id.label("control_id"),
            Mapping.check_id.label("check_id"),
            Mapping.relationship.label("relationship"),
            Result.status.label("status"),
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


def _matrix_query(assessment_ids: Sequence[int], framework: str | None) -> Select[Any]:
    """(assessment, control, status, source, mapped count, direct status, direct notes) rows."""
    m = _mapped_results(assessment_ids).subquery("m")
    # Aggregate the mapped results per (assessment, control) first: the join with the controls
    # below then needs no grouping, and no wide columns travel through a sort.
    agg = (
        select(
            m.c.assessment_id,
            m.c.control_id,
            func.count(m.c.check_id).label("n"),
            _count(m.c.status == "not_applicable").label("na"),
            _count(m.c.status == "fail").label("fail"),
            _count(m.c.status == "pass").label("ok"),
            _count(m.c.status.is_(None)).label("none"),
        )
        .group_by(m.c.assessment_id, m.c.control_id)
        .subquery("agg")
    )
    n = func.coalesce(agg.c.n, 0)
    considered = n - func.coalesce(agg.c.na, 0)
    rolled = case(
        (n == 0, literal("unmapped")),
        (considered == 0, literal("not_applicable")),
        (agg.c.fail > 0, literal("gap")),
        (agg.c.ok == considered, literal("met")),
        (agg.c.none == considered, literal("not_assessed")),
        else_=literal("partial"),
    )
    direct = aliased(Result)
    direct_status = case(
        (direct.status == "pass", literal("met")),
        (direct.status == "fail", literal("gap")),
        (direct.status == "partial", literal("partial")),
        (direct.status == "not_applicable", literal("not_applicable")),
    )
    ac = aliased(AssessmentCatalog)
    q = (
        select(
            ac.assessment_id,
            Control.id,
            func.coalesce(direct_status, rolled),
            case((direct.status.is_(None), literal("rollup")), else_=literal("direct")),
            func.cast(n, Integer),
            direct.status,
            direct.notes,
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
        .order_by(ac.assessment_id, Catalog.key, Control.position)
    )
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
        # Through the Core connection: plain rows, without the ORM's per-row result processing.
        result = session.connection().execute(_matrix_query(part, framework))
        out.extend(tuple(row) for row in result.fetchall())
    return out


def control_info(session: Session, control_ids: Iterable[int]) -> dict[int, ControlInfo]:
    """Framework, ref, title and text of controls, fetched once rather than per assessment."""
    wanted = sorted(set(control_ids))
    info: dict[int, ControlInfo] = {}
    for start in range(0, len(wanted), IDS_PER_QUERY):
        part = wanted[start : start + IDS_PER_QUERY]
        for cid, fw, cat_id, ref, kind, parent, title, text, pos in session.execute(
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
            )
            .join(Catalog, Catalog.id == Control.catalog_id)
            .where(Control.id.in_(part))
        ).all():
            info[cid] = ControlInfo(fw, cat_id, ref, kind, parent, title, text, pos)
    return info


def control_statuses(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[ControlStatus]:
    """Status of every assessable control for each assessment, ordered by framework and position."""
    if not assessment_ids:
        return []
    rows = status_matrix(session, assessment_ids, framework)
    info = control_info(session, {r[1] for r in rows})
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
            )
        )
    return out


def contributions(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[Contribution]:
    """Every check mapped to each control, with its status, for the `why` behind a status."""
    if not assessment_ids:
        return []
    m = _mapped_results(assessment_ids).subquery("m")
    q = (
        select(
            m.c.assessment_id, m.c.control_id, Check.key, Check.title, m.c.relationship, m.c.status
        )
        .join(Check, Check.id == m.c.check_id)
        .join(Control, Control.id == m.c.control_id)
        .order_by(m.c.assessment_id, m.c.control_id, Check.position)
    )
    if framework is not None:
        q = q.join(Catalog, Catalog.id == Control.catalog_id).where(Catalog.key == framework)
    return [Contribution(*row) for row in session.execute(q).all()]
