"""`compliance catalogs`: the framework catalogs in force."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.errors import NotFound
from compliance.store.catalog_store import framework_row
from compliance.store.models import Catalog, Check, Control, Mapping
from compliance.textsafe import shown


@click.group()
def catalogs() -> None:
    """List and inspect the framework catalogs."""


def catalog_summaries(session: Session) -> list[dict[str, Any]]:
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


@catalogs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def list_(app: AppContext, as_json: bool) -> None:
    """List the catalogs in force with their control counts and mapping coverage.

    \b
    Example:
      compliance catalogs list --json
    """
    with app.read_session() as session:
        rows = catalog_summaries(session)
    if as_json:
        echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Framework catalogs in force", title_justify="left")
    for col in ("id", "version", "controls", "assessable", "mapped", "coverage", "origin", "name"):
        numeric = col in ("controls", "assessable", "mapped", "coverage")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col != "name")
    for r in rows:
        c = r["controls"]
        cells = (
            r["id"],
            r["version"],
            str(c["total"]),
            str(c["assessable"]),
            str(c["mapped"]),
            f"{r['coverage']:.0%}" if r["coverage"] is not None else "-",
            r["origin"],
            r["name"],
        )
        # Text cells, escaped: an organisation catalog's name is neither markup nor controls.
        table.add_row(*(Text(shown(cell)) for cell in cells))
    Console(width=max(Console().width, 120)).print(table)


@catalogs.command()
@click.argument("framework")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def show(app: AppContext, framework: str, ref: str | None, as_json: bool) -> None:
    """Show a catalog's source and controls, or one control with the checks mapped to it.

    \b
    Examples:
      compliance catalogs show nist-csf-2.0
      compliance catalogs show nist-csf-2.0 GV.OC-01
      compliance catalogs show nist-ai-rmf-1.0 "GOVERN 1.1" --json
    """
    with app.read_session() as session:
        cat = framework_row(session, framework)
        q = select(Control).where(Control.catalog_id == cat.id).order_by(Control.position)
        if ref is not None:
            control = session.execute(q.where(Control.ref == ref)).scalar_one_or_none()
            if control is None:
                raise NotFound(f"unknown control {ref!r} in framework {framework}")
            maps = session.execute(
                select(
                    Check.key, Check.title, Mapping.relationship, Mapping.rationale, Mapping.origin
                )
                .join(Check, Check.id == Mapping.check_id)
                .join(Catalog, Catalog.id == Check.catalog_id)
                .where(Mapping.control_id == control.id, Catalog.is_current.is_(True))
                .order_by(Check.position)
            ).all()
            data: dict[str, Any] = dict(
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
            if as_json:
                echo_json(data)
                return
            say(f"{data['control']}  ({control.kind})")
            if control.title:
                say(control.title)
            say(control.text or "(no official text)")
            say("", "Mapped checks:" if maps else "No check maps to this control.")
            for k, t, r, why, _o in maps:
                say(f"  {k} {t} [{r}]: {why}")
            return
        controls = session.execute(q).scalars().all()
        data = dict(
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
    if as_json:
        echo_json(data)
        return
    src = cat.source or {}
    say(f"{cat.name} {cat.version}  [{cat.key}]")
    say(f"source:  {src.get('publisher')}, {src.get('title')} ({src.get('date')})")
    say(f"licence: {src.get('license') or src.get('licence')}")
    say(f"sha256:  {cat.sha256}", "")
    depth: dict[str, int] = {}
    for c in controls:
        d = depth.get(c.parent_ref, -1) + 1 if c.parent_ref else 0
        depth[c.ref] = d
        label = c.title or (c.text or "")[:90]
        say(f"{'  ' * d}{c.ref}  {label}")
