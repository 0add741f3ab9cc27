"""`compliance checks`: the baseline checks and their mappings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.store.models import Catalog, Check, Control, Mapping


def check_listing(session: Session) -> list[dict[str, Any]]:
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
            mappings=maps.get(c.id, []),
        )
        for c in checks
    ]


@click.group()
def checks() -> None:
    """List the baseline checks and the framework controls each one maps to."""


@checks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: AppContext, as_json: bool) -> None:
    """List every check with its mappings.

    \b
    Example:
      compliance checks list --json | jq '.[] | {id, n: (.mappings | length)}'
    """
    with app.read_session() as session:
        rows = check_listing(session)
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        frameworks = sorted({m["control"].split("/")[0] for m in r["mappings"]})
        say(
            f"{r['id']:<8} {r['title']:<45} {len(r['mappings']):>3} mappings  {', '.join(frameworks)}"
        )


@checks.command()
@click.argument("check_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def show(app: AppContext, check_id: str, as_json: bool) -> None:
    """Show one check: objective, evidence, remediation and mappings.

    \b
    Example:
      compliance checks show IDN-02
    """
    with app.read_session() as session:
        rows = [r for r in check_listing(session) if r["id"] == check_id]
    if not rows:
        from compliance.errors import NotFound

        raise NotFound(f"unknown check {check_id!r}")
    r = rows[0]
    if as_json:
        echo_json(r)
        return
    say(
        f"{r['id']}  {r['title']}",
        "",
        f"Objective:   {r['objective']}",
        f"Evidence:    {r['evidence']}",
        f"Remediation: {r['remediation']}",
        "",
        "Mappings:",
    )
    for m in r["mappings"]:
        say(f"  {m['control']:<45} {m['relationship']:<10} {m['rationale']}")
