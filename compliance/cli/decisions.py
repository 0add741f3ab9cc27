"""`compliance gate`, `compliance gaps` and `compliance deployments`: what the results mean."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from compliance import views
from compliance.cli.context import AppContext, echo_json, handle_errors, pass_app
from compliance.store import catalog_store, queries
from compliance.store.models import Deployment

EXIT_CODES = {"APPROVE": 0, "CONDITIONAL": 3, "BLOCK": 4}


class DateType(click.ParamType):  # type: ignore[type-arg]
    name = "DATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value), "%Y-%m-%d").date()
        except ValueError:
            self.fail(f"expected a date as YYYY-MM-DD, got {value!r}", param, ctx)


@click.command()
@click.argument("deployment")
@click.option("--assessment", "assessment_id", help="Assessment id [default: the latest].")
@click.option(
    "--as-of", type=DateType(), help="Decide as of this date [default: the assessment's date]."
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to apply instead of the one in force.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
@handle_errors
def gate(
    app: AppContext,
    deployment: str,
    assessment_id: str | None,
    as_of: date | None,
    policy_path: Path | None,
    as_json: bool,
) -> None:
    """Decide APPROVE, CONDITIONAL or BLOCK for a deployment under the policy.

    Exit status: 0 approve, 3 conditional, 4 block, 1 for errors; a pipeline can gate a
    release on it.

    \b
    Example:
      compliance gate payments-recon-agent --as-of 2026-12-31 --json
    """
    with app.session() as session:
        dep = queries.deployment(session, deployment)
        a = queries.assessment(session, dep, assessment_id)
        policy = catalog_store.resolve_policy(session, policy_path)
        decision = views.decision(session, a, policy, as_of)
        data = views.gate_json(dep, a, decision, policy)
    if as_json:
        echo_json(data)
    else:
        _explain(dep, data)
    sys.exit(EXIT_CODES[decision.decision])


def _explain(dep: Deployment, data: dict) -> None:  # type: ignore[type-arg]
    colour = {"APPROVE": "green", "CONDITIONAL": "yellow", "BLOCK": "red"}[data["decision"]]
    click.echo(f"{dep.name} ({dep.key}), assessment {data['assessment']}, as of {data['as_of']}")
    click.secho(f"Decision: {data['decision']}", fg=colour, bold=True)
    click.echo(f"Risk tier: {data['tier']}, because {'; '.join(data['tier_reasons'])}.")
    if data["blockers"]:
        click.echo("\nBlocked by:")
        for b in data["blockers"]:
            click.echo(f"  - {b['reason']}")
    if data["conditions"]:
        click.echo("\nApproved only under these conditions:")
        for c in data["conditions"]:
            click.echo(f"  - {c['reason']}")
    s = data["safety_scores"]
    click.echo(
        f"\nSafety scores (one input only; the tier minimum is {s['minimum']:.2f}; "
        "a high score never waives a required check):"
    )
    if not s["scores"]:
        click.echo("  none recorded")
    for sc in s["scores"]:
        flag = "below minimum" if sc["below_minimum"] else "meets minimum"
        click.echo(f"  {sc['benchmark']} {sc['version']}: {sc['score']:.2f} ({flag})")
    if data["decision"] == "APPROVE":
        click.echo(
            f"\nEvery check required at the {data['tier']} tier passed or is not applicable, "
            "and the profile defines tools, data and audit logging."
        )


@click.command()
@click.argument("deployment")
@click.option("--assessment", "assessment_id", help="Assessment id [default: the latest].")
@click.option("--framework", help="Only this framework (e.g. nist-csf-2.0).")
@click.option("--all", "show_all", is_flag=True, help="List every control, not only those not met.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always every control).")
@pass_app
@handle_errors
def gaps(
    app: AppContext,
    deployment: str,
    assessment_id: str | None,
    framework: str | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Roll results up onto every control of the frameworks and show the gaps.

    \b
    Example:
      compliance gaps payments-recon-agent --framework owasp-asi-2026
    """
    with app.session() as session:
        dep = queries.deployment(session, deployment)
        a = queries.assessment(session, dep, assessment_id)
        if framework is not None:
            catalog_store.framework_row(session, framework)
        data = views.gaps(session, dep, a, framework)
    if as_json:
        echo_json(data)
        return
    click.echo(f"{dep.name} ({dep.key}), assessment {a.key} of {a.assessed_on.isoformat()}")
    for fw in data["frameworks"]:
        score = "-" if fw["score"] is None else f"{fw['score']:.0%}"
        counts = ", ".join(f"{k} {v}" for k, v in fw["counts"].items() if v)
        click.echo(f"\n{fw['id']}: score {score}, coverage {fw['coverage']:.0%} ({counts})")
        for c in fw["controls"]:
            if not show_all and c["status"] in ("met", "not_applicable", "unmapped"):
                continue
            why = ", ".join(f"{x['check']} {x['status']}" for x in c["checks"])
            src = " (recorded directly)" if c["source"] == "direct" else ""
            click.echo(f"  {c['status']:<14} {c['control']}{src}  {why}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--as-of", type=DateType(), help="Decide as of this date [default: each assessment's date]."
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to decide with instead of the one in force.",
)
@pass_app
@handle_errors
def deployments(
    app: AppContext, as_json: bool, as_of: date | None, policy_path: Path | None
) -> None:
    """List deployments with the tier and decision of their latest assessment.

    \b
    Example:
      compliance deployments --json
    """
    from compliance.reports.model import latest_assessments

    with app.session() as session:
        policy = catalog_store.resolve_policy(session, policy_path)
        pairs = latest_assessments(session)
        decisions = views.decide_many(session, [a for _d, a, _p in pairs], policy, as_of)
        out = [views.deployment_row(dep, a, decisions[a.id]) for dep, a, _p in pairs]
    if as_json:
        echo_json(out)
        return
    for r in out:
        click.echo(
            f"{r['deployment']:<26} {r['tier']:<9} {r['decision']:<12} {r['assessment']:<10} "
            f"{r['blockers']} blocker(s), {r['conditions']} condition(s)"
        )
