"""View models of the catalogs in force: the checks, their procedures and mappings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from compliance.policy import LoadedPolicy
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
