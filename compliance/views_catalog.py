"""View models of the catalogs in force: the checks, their procedures and mappings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from compliance.errors import NotFound
from compliance.policy import LoadedPolicy
from compliance.store.catalog_store import framework_row
from compliance.store.models import Catalog, Check, Control, Mapping


def _thresholds(names: list[str], policy: LoadedPolicy) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in names:
        th = policy.thresholds().get(name)
        if th is None:  # a version-2 policy defines them all (checked when it is loaded)
            out.append(dict(name=name, description=None, unit=None, values={}))
        else:
            out.append(
                dict(name=name, description=th.description, unit=th.unit, values=dict(th.values))
            )
    return out


def check_listing(session: Session, policy: LoadedPolicy) -> list[dict[str, Any]]:
    """Every check in force with its test procedure (thresholds from `policy`) and mappings."""
    checks_cat = aliased(Catalog)
    fw_cat = aliased(Catalog)
    map_cat = aliased(Catalog)
    checks = (
        session.execute(
            select(Check)
            .join(checks_cat, checks_cat.id == Check.catalog_id)
            .where(checks_cat.is_current.is_(True))
            .order_by(Check.position)
        )
        .scalars()
        .all()
    )
    maps: dict[int, list[dict[str, str]]] = defaultdict(list)
    for check_id, fw, ref, rel, why, origin, declared in session.execute(
        select(
            Mapping.check_id,
            fw_cat.key,
            Control.ref,
            Mapping.relationship,
            Mapping.rationale,
            Mapping.origin,
            map_cat.key,
        )
        .join(Control, Control.id == Mapping.control_id)
        .join(fw_cat, fw_cat.id == Control.catalog_id)
        .join(map_cat, map_cat.id == Mapping.catalog_id)
        .where(
            fw_cat.is_current.is_(True),
            map_cat.is_current.is_(True),
            Mapping.check_id.in_([c.id for c in checks]),
        )
        .order_by(Mapping.check_id, fw_cat.key, Control.position)
    ):
        maps[check_id].append(
            dict(
                control=f"{fw}/{ref}",
                relationship=rel,
                rationale=why,
                origin=origin,
                declared_in=declared,
            )
        )
    return [
        dict(
            id=c.key,
            title=c.title,
            domain=c.domain,
            objective=c.objective,
            evidence=c.evidence_guidance,
            remediation=c.remediation,
            procedure=None
            if c.procedure is None
            else dict(
                method=c.procedure["method"],
                steps=c.procedure["steps"],
                criteria=c.procedure["criteria"],
                thresholds=_thresholds(c.procedure.get("thresholds", []), policy),
            ),
            policy=f"{policy.policy.id} {policy.policy.version}",
            mappings=maps.get(c.id, []),
        )
        for c in checks
    ]


def catalog_summaries(session: Session) -> list[dict[str, Any]]:
    """The framework catalogs in force, each with its control counts and mapping coverage."""
    mapped_ids = select(Mapping.control_id).distinct().scalar_subquery()
    counts = (
        select(
            Control.catalog_id.label("catalog_id"),
            func.count(Control.id).label("total"),
            func.sum(case((Control.assessable.is_(True), 1), else_=0)).label("assessable"),
            func.sum(
                case((and_(Control.assessable.is_(True), Control.id.in_(mapped_ids)), 1), else_=0)
            ).label("mapped"),
        )
        .group_by(Control.catalog_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Catalog.key,
            Catalog.name,
            Catalog.version,
            Catalog.sha256,
            Catalog.origin,
            Catalog.file_name,
            Catalog.source,
            counts.c.total,
            counts.c.assessable,
            counts.c.mapped,
        )
        .join(counts, counts.c.catalog_id == Catalog.id)
        .where(Catalog.kind == "framework", Catalog.is_current.is_(True))
        .order_by(Catalog.key)
    )
    out = []
    for key, name, version, sha, origin, file_name, source, total, assessable, mapped in rows:
        src = source or {}
        out.append(
            dict(
                id=key,
                name=name,
                version=version,
                controls=dict(
                    total=int(total), assessable=int(assessable or 0), mapped=int(mapped or 0)
                ),
                coverage=round(int(mapped or 0) / int(assessable), 4) if assessable else None,
                publisher=src.get("publisher"),
                license=src.get("license") or src.get("licence"),
                url=src.get("url"),
                file=file_name,
                sha256=sha,
                origin=origin,
            )
        )
    return out


def catalog_detail(session: Session, framework: str) -> dict[str, Any]:
    """A framework catalog in force: its source and every control, in order."""
    cat = framework_row(session, framework)
    controls = (
        session.execute(
            select(Control).where(Control.catalog_id == cat.id).order_by(Control.position)
        )
        .scalars()
        .all()
    )
    return dict(
        id=cat.key,
        name=cat.name,
        version=cat.version,
        sha256=cat.sha256,
        source=cat.source,
        controls=[
            dict(
                ref=c.ref,
                kind=c.kind,
                parent=c.parent_ref,
                title=c.title,
                text=c.text,
                assessable=c.assessable,
            )
            for c in controls
        ],
    )


def control_detail(session: Session, framework: str, ref: str) -> dict[str, Any]:
    """One control of a framework in force, with the checks mapped to it and their rationale."""
    cat = framework_row(session, framework)
    control = session.execute(
        select(Control).where(Control.catalog_id == cat.id, Control.ref == ref)
    ).scalar_one_or_none()
    if control is None:
        raise NotFound(f"unknown control {ref!r} in framework {framework}")
    maps = session.execute(
        select(Check.key, Check.title, Mapping.relationship, Mapping.rationale, Mapping.origin)
        .join(Check, Check.id == Mapping.check_id)
        .join(Catalog, Catalog.id == Check.catalog_id)
        .where(Mapping.control_id == control.id, Catalog.is_current.is_(True))
        .order_by(Check.position)
    ).all()
    return dict(
        control=f"{framework}/{control.ref}",
        ref=control.ref,
        kind=control.kind,
        parent=control.parent_ref,
        title=control.title,
        text=control.text,
        assessable=control.assessable,
        detail=control.detail or {},
        checks=[
            dict(check=k, title=t, relationship=r, rationale=why, origin=o)
            for k, t, r, why, o in maps
        ],
    )
