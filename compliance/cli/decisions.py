"""`compliance gate`, `compliance gaps` and `compliance deployments`: what the results mean."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from compliance import views
from compliance.cli.context import AppContext, as_of_option, echo_json, handle_errors, pass_app, say
from compliance.store import catalog_store, queries
from compliance.store.models import Deployment

EXIT_CODES = {"APPROVE": 0, "CONDITIONAL": 3, "BLOCK": 4}


@click.command()
@click.argument("deployment")
@click.option(
    "--assessment",
    "assessment_id",
    help="Assessment id [default: the latest dated on or before the as-of date].",
)
@as_of_option
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
    as_of: date,
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
    with app.read_session() as session:
        dep = queries.deployment(session, deployment)
        a = queries.assessment(session, dep, assessment_id, as_of)
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
    draft = " (a draft, not finalized)" if data["assessment_state"] == "draft" else ""
    say(
        f"{dep.name} ({dep.key}), assessment {data['assessment']} of "
        f"{data['assessment_date']}{draft}, decided as of {data['as_of']}"
    )
    p = data["policy"]
    say(f"Policy: {p['id']} {p['version']} (sha256 {p['sha256'][:12]})")
    say(f"Decision: {data['decision']}", fg=colour, bold=True)
    say(f"Risk tier: {data['tier']}, because {'; '.join(data['tier_reasons'])}.")
    if data["blockers"]:
        say("", "Blocked by:")
        for b in data["blockers"]:
            say(f"  - {b['reason']}")
    if data["conditions"]:
        say(
            "",
            "Approved only under these conditions:"
            if data["decision"] == "CONDITIONAL"
            else "Conditions that would remain once the blockers are cleared:",
        )
        for c in data["conditions"]:
            say(f"  - {c['reason']}")
    if data["not_applicable"]:
        say("\nRequired checks taken as not applicable:")
        for n in data["not_applicable"]:
            say(f"  - {n['check']}: {n['justification']}")
    s = data["safety_scores"]
    say(
        "",
        f"Safety scores (one input only; the tier minimum is {s['minimum']:.2f}; "
        "a high score never waives a required check):",
    )
    if not s["scores"]:
        say("  none recorded")
    for sc in s["scores"]:
        flag = "below" if sc["below_minimum"] else "meets"
        say(
            f"  {sc['benchmark']} {sc['version']}: {sc['score']:.2f} "
            f"({flag} the minimum of {sc['minimum']:.2f})"
        )
    if data["decision"] == "APPROVE":
        say(
            "",
            f"Every check required at the {data['tier']} tier passed or is not applicable, "
            "and the profile defines tools, data and audit logging.",
        )
    if data["reassessment_due"]:
        say(f"Re-assessment due by {data['reassessment_due']}.")


@click.command()
@click.argument("deployment")
@click.option(
    "--assessment",
    "assessment_id",
    help="Assessment id [default: the latest dated on or before the as-of date].",
)
@as_of_option
@click.option("--framework", help="Only this framework (e.g. nist-csf-2.0).")
@click.option("--all", "show_all", is_flag=True, help="List every control, not only those not met.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always every control).")
@pass_app
@handle_errors
def gaps(
    app: AppContext,
    deployment: str,
    assessment_id: str | None,
    as_of: date,
    framework: str | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Roll results up onto every control of the frameworks and show the gaps.

    \b
    Example:
      compliance gaps payments-recon-agent --framework owasp-asi-2026
    """
    with app.read_session() as session:
        dep = queries.deployment(session, deployment)
        a = queries.assessment(session, dep, assessment_id, as_of)
        if framework is not None:
            catalog_store.framework_row(session, framework)
        data = views.gaps(session, dep, a, framework, as_of)
    if as_json:
        echo_json(data)
        return
    say(
        f"{dep.name} ({dep.key}), assessment {a.key} of {a.assessed_on.isoformat()}"
        f"{' (draft)' if a.state == 'draft' else ''}, in force as of {as_of.isoformat()}"
    )
    for fw in data["frameworks"]:
        score = "-" if fw["score"] is None else f"{fw['score']:.0%}"
        counts = ", ".join(f"{k} {v}" for k, v in fw["counts"].items() if v)
        cov = fw["coverage"]
        say(
            f"\n{fw['id']}: score {score} ({cov['assessed']} of {cov['assessable']} controls "
            f"assessed, {cov['mapped']} mapped) ({counts})"
        )
        for c in fw["controls"]:
            if not show_all and c["status"] in ("met", "not_applicable", "unmapped"):
                continue
            why = ", ".join(f"{x['check']} {x['status']}" for x in c["checks"])
            src = " (recorded directly)" if c["source"] == "direct" else ""
            say(f"  {c['status']:<14} {c['control']}{src}  {why}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@as_of_option
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Policy file to decide with instead of the one in force.",
)
@pass_app
@handle_errors
def deployments(app: AppContext, as_json: bool, as_of: date, policy_path: Path | None) -> None:
    """List every deployment with the tier and decision of the assessment in force at the
    as-of date (its latest dated on or before it); one with none is listed as not assessed.

    \b
    Example:
      compliance deployments --as-of 2026-12-31 --json
    """
    from compliance.reports.model import latest_assessments

    with app.read_session() as session:
        policy = catalog_store.resolve_policy(session, policy_path)
        pairs = latest_assessments(session, as_of)
        assessed = [a for _d, a, _p in pairs if a is not None]
        decisions = views.decide_many(session, assessed, policy, as_of)
        out = [
            dict(
                views.deployment_row(dep, a, decisions[a.id] if a else None),
                as_of=as_of.isoformat(),
            )
            for dep, a, _p in pairs
        ]
    if as_json:
        echo_json(out)
        return
    say(f"Decided as of {as_of.isoformat()} under policy {views.policy_label(policy)}")
    for r in out:
        if r["status"] == "not_assessed":
            say(f"{r['deployment']:<26} not assessed as of {as_of.isoformat()}")
            continue
        draft = " (draft)" if r["state"] == "draft" else ""
        say(
            f"{r['deployment']:<26} {r['tier']:<9} {r['decision']:<12} {r['assessment']:<10} "
            f"{r['blockers']} blocker(s), {r['conditions']} condition(s){draft}"
        )
