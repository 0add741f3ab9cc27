"""`compliance catalogs`: the framework catalogs in force."""

from __future__ import annotations

from typing import Any

import click

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.textsafe import shown
from compliance.views_catalog import catalog_detail, catalog_summaries, control_detail


@click.group()
def catalogs() -> None:
    """List and inspect the framework catalogs."""


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
        if ref is not None:
            data: dict[str, Any] = control_detail(session, framework, ref)
            if as_json:
                echo_json(data)
                return
            say(f"{data['control']}  ({data['kind']})")
            if data["title"]:
                say(data["title"])
            say(data["text"] or "(no official text)")
            say("", "Mapped checks:" if data["checks"] else "No check maps to this control.")
            for m in data["checks"]:
                say(f"  {m['check']} {m['title']} [{m['relationship']}]: {m['rationale']}")
            return
        data = catalog_detail(session, framework)
    if as_json:
        echo_json(data)
        return
    src = data["source"] or {}
    say(f"{data['name']} {data['version']}  [{data['id']}]")
    say(f"source:  {src.get('publisher')}, {src.get('title')} ({src.get('date')})")
    say(f"licence: {src.get('license') or src.get('licence')}")
    say(f"sha256:  {data['sha256']}", "")
    depth: dict[str, int] = {}
    for c in data["controls"]:
        d = depth.get(c["parent"], -1) + 1 if c["parent"] else 0
        depth[c["ref"]] = d
        label = c["title"] or (c["text"] or "")[:90]
        say(f"{'  ' * d}{c['ref']}  {label}")
