"""`compliance checks`: the baseline checks and their mappings."""

from __future__ import annotations

import click

from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app, say
from compliance.store import catalog_store
from compliance.views_catalog import check_listing


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
        rows = check_listing(session, catalog_store.current_policy(session))
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
    """Show one check: objective, how to test it (methods, steps, what counts as pass,
    partial and fail, with the policy's thresholds per tier), evidence, remediation and
    mappings.

    \b
    Example:
      compliance checks show REV-01
    """
    with app.read_session() as session:
        rows = [
            r
            for r in check_listing(session, catalog_store.current_policy(session))
            if r["id"] == check_id
        ]
    if not rows:
        from compliance.errors import NotFound

        raise NotFound(f"unknown check {check_id!r}")
    r = rows[0]
    if as_json:
        echo_json(r)
        return
    say(f"{r['id']}  {r['title']}\n\nObjective:   {r['objective']}")
    proc = r["procedure"]
    if proc:
        say(f"\nHow to test it ({', '.join(proc['method'])}):")
        for i, step in enumerate(proc["steps"], 1):
            say(f"  {i}. {step}")
        say("What counts as:")
        for key in ("pass", "partial", "fail"):
            say(f"  {key + ':':<9}{proc['criteria'][key]}")
        if proc["thresholds"]:
            say(f"Thresholds (policy {r['policy']}):")
            for t in proc["thresholds"]:
                values = ", ".join(f"{tier} {v:g}" for tier, v in t["values"].items())
                say(f"  {t['name']} ({t['unit']}): {values}. {t['description']}")
    say(f"\nEvidence:    {r['evidence']}")
    say(f"Remediation: {r['remediation']}\n\nMappings:")
    for m in r["mappings"]:
        say(f"  {m['control']:<45} {m['relationship']:<10} {m['rationale']}")
