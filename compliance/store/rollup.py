"""Rolling check results up onto framework controls, set-based in SQL.

For every assessment asked for, every assessable control of the catalogs that assessment was made
against gets a status from the results of the checks mapped to it (see `compliance.rollup` for the
rule stated in Python); a result recorded directly on a control overrides the roll-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def control_statuses(
    session: Session, assessment_ids: Sequence[int], framework: str | None = None
) -> list[ControlStatus]:
    """Status of every assessable control for each assessment, ordered by framework and position."""
    if not assessment_ids:
        return []
    m = _mapped_results(assessment_ids).subquery("m")
    n_mapped = func.count(m.c.check_id)
    n_na = _count(m.c.status == "not_applicable")
    n_fail = _count(m.c.status == "fail")
    n_pass = _count(m.c.status == "pass")
    n_none = _count(and_(m.c.check_id.is_not(None), m.c.status.is_(None)))
    considered = n_mapped - n_na
    rolled = case(
        (n_mapped == 0, literal("unmapped")),
        (considered == 0, literal("not_applicable")),
        (n_fail > 0, literal("gap")),
        (n_pass == considered, literal("met")),
        (n_none == considered, literal("not_assessed")),
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
            Catalog.key,
            Catalog.id,
            Control.id,
            Control.ref,
            Control.kind,
            Control.parent_ref,
            Control.title,
            Control.text,
            Control.position,
            func.coalesce(func.max(direct_status), rolled),
            case((func.max(direct.status).is_(None), literal("rollup")), else_=literal("direct")),
            func.cast(n_mapped, Integer),
            func.max(direct.status),
            func.max(direct.notes),
        )
        .select_from(ac)
        .join(Catalog, and_(Catalog.id == ac.catalog_id, Catalog.kind == "framework"))
        .join(Control, and_(Control.catalog_id == Catalog.id, Control.assessable.is_(True)))
        .outerjoin(m, and_(m.c.assessment_id == ac.assessment_id, m.c.control_id == Control.id))
        .outerjoin(
            direct, and_(direct.assessment_id == ac.assessment_id, direct.control_id == Control.id)
        )
        .where(ac.assessment_id.in_(assessment_ids))
        .group_by(
            ac.assessment_id,
            Catalog.key,
            Catalog.id,
            Control.id,
            Control.ref,
            Control.kind,
            Control.parent_ref,
            Control.title,
            Control.text,
            Control.position,
        )
        .order_by(ac.assessment_id, Catalog.key, Control.position)
    )
    if framework is not None:
        q = q.where(Catalog.key == framework)
    return [ControlStatus(*row) for row in session.execute(q).all()]  # type: ignore[call-arg]


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
