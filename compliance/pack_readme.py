"""What an audit pack explains about itself, for an auditor who has never seen this tool: its
README (layout, statuses, roll-up and decision rules, the policy applied, the catalog versions,
how to verify), the completeness statement and the audit-trail extract for its scope.

Everything here is read from the pack's own snapshot of the database and is deterministic: the
same database, arguments and SOURCE_DATE_EPOCH give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance import __version__, sshsig
from compliance.policy import LoadedPolicy
from compliance.store import audit
from compliance.store.models import (
    Assessment,
    AuditEvent,
    Deployment,
    Evidence,
    Result,
    RiskAcceptance,
)
from compliance.store.rollup import latest_query


def audit_extract(
    session: Session, head: audit.Anchor | None, deployments: Sequence[str]
) -> dict[str, Any]:
    """The events of the audit trail that concern the pack's scope, up to the data head the
    pack was built from: every catalog load and every event on an assessment of a deployment
    in scope, each with its position in the chain and the hashes that link it."""
    if head is None:
        return dict(head=None, events=[], note="the audit trail is empty")
    wanted = set(deployments)
    events = []
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    for position, ev in enumerate(rows, 1):
        if position > head.events:
            break
        dep = ev.subject.split("/", 1)[0]
        if ev.action.startswith("catalog.") or (
            ev.action.startswith("assessment.") and dep in wanted
        ):
            events.append(
                dict(
                    position=position,
                    occurred_at=ev.occurred_at.isoformat(),
                    actor=ev.actor,
                    action=ev.action,
                    subject=ev.subject,
                    detail=json.loads(ev.detail),
                    prev_hash=ev.prev_hash,
                    hash=ev.hash,
                )
            )
    return dict(
        head=dict(events=head.events, hash=head.hash),
        scope=sorted(wanted),
        hash_rule="each event's hash is the SHA-256 of the canonical JSON (sorted keys, no "
        "spaces) of [prev_hash, occurred_at in UTC as YYYY-MM-DDTHH:MM:SS.ffffff, actor, action, "
        "subject, detail as canonical JSON]; the first event's prev_hash is 64 zeros",
        check="on the database: compliance audit verify --expect "
        f"{head.events}:{head.hash} (the whole chain up to the head, and every assessment's "
        "rows against the state its last event recorded)",
        events=events,
    )


def completeness(
    session: Session, as_of: date, in_scope: Sequence[str], named: Sequence[str]
) -> dict[str, Any]:
    """Every deployment in the database, with what it holds as of `as_of` and whether the pack
    covers it: a few set-based queries whatever the number of deployments."""
    latest = latest_query(as_of, depth=1).subquery()
    counted = (
        select(Assessment.deployment_id, func.count().label("n"))
        .where(Assessment.assessed_on <= as_of)
        .group_by(Assessment.deployment_id)
        .subquery()
    )
    later = (
        select(Assessment.deployment_id, func.count().label("n"))
        .where(Assessment.assessed_on > as_of)
        .group_by(Assessment.deployment_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Deployment.key,
            Deployment.name,
            Deployment.owner,
            Assessment.id,
            Assessment.key,
            Assessment.assessed_on,
            Assessment.state,
            counted.c.n,
            later.c.n,
        )
        .outerjoin(latest, latest.c.deployment_id == Deployment.id)
        .outerjoin(Assessment, Assessment.id == latest.c.assessment_id)
        .outerjoin(counted, counted.c.deployment_id == Deployment.id)
        .outerjoin(later, later.c.deployment_id == Deployment.id)
        .order_by(Deployment.key)
    ).all()
    ids = [r[3] for r in rows if r[3] is not None]
    results = dict(
        session.execute(
            select(Result.assessment_id, func.count())
            .where(Result.assessment_id.in_(ids))
            .group_by(Result.assessment_id)
        ).all()
    )
    evidence: dict[tuple[int, str], int] = {
        (aid, kind): n
        for aid, kind, n in session.execute(
            select(Result.assessment_id, Evidence.kind, func.count())
            .join(Evidence, Evidence.result_id == Result.id)
            .where(Result.assessment_id.in_(ids))
            .group_by(Result.assessment_id, Evidence.kind)
        ).all()
    }
    acceptances = dict(
        session.execute(
            select(RiskAcceptance.assessment_id, func.count())
            .where(RiskAcceptance.assessment_id.in_(ids))
            .group_by(RiskAcceptance.assessment_id)
        ).all()
    )
    scope = set(in_scope)
    out = []
    for key, name, owner, aid, akey, on, state, n_before, n_after in rows:
        if key in scope:
            why = "in scope"
        elif aid is None:
            why = f"left out: no assessment dated on or before {as_of.isoformat()}"
        else:
            why = "left out: not named by --deployment"
        out.append(
            dict(
                deployment=key,
                name=name,
                owner=owner,
                in_scope=key in scope,
                status=why,
                assessment=None
                if aid is None
                else dict(
                    key=akey,
                    date=on.isoformat(),
                    state=state,
                    results=int(results.get(aid, 0)),
                    evidence_files=int(evidence.get((aid, "file"), 0)),
                    evidence_links=int(evidence.get((aid, "url"), 0)),
                    acceptances=int(acceptances.get(aid, 0)),
                ),
                assessments_on_or_before=int(n_before or 0),
                assessments_after=int(n_after or 0),
            )
        )
    return dict(
        as_of=as_of.isoformat(),
        scope_named=list(named),
        statement=(
            f"Every deployment in the database the pack was built from, as of "
            f"{as_of.isoformat()}: {len(out)} in all, {sum(1 for x in out if x['in_scope'])} in "
            f"this pack. A deployment is left out when the pack was built for named deployments "
            f"only, or when it has no assessment dated on or before {as_of.isoformat()}. "
            "Assessments dated after the as-of date did not exist yet at that date and are "
            "counted apart."
        ),
        totals=dict(
            deployments=len(out),
            in_scope=sum(1 for x in out if x["in_scope"]),
            left_out=sum(1 for x in out if not x["in_scope"]),
            not_assessed=sum(1 for x in out if x["assessment"] is None),
        ),
        deployments=out,
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def readme(
    meta: dict[str, Any],
    policy: LoadedPolicy,
    summary: dict[str, Any],
    completeness: dict[str, Any],
    trail: dict[str, Any],
    head: audit.Anchor | None,
    custom_templates: bool,
    signer: sshsig.PublicKey | None = None,
) -> str:
    """README.md: the pack explained to an auditor who has never seen this tool."""
    from compliance.pack import verify_steps
    from compliance.pack_names import SIGNATURE

    pol = policy.policy
    as_of = meta["as_of"]
    t = summary["totals"]
    drafts = meta["drafts"]
    out: list[str] = [
        f"# Audit pack as of {as_of}",
        "",
        f"Built by compliance {__version__}, an engine that decides whether AI agent "
        "deployments may run (APPROVE, CONDITIONAL or BLOCK) from each deployment's context "
        "and a policy kept as data, and rolls per-check results up onto four frameworks. "
        "Every file of this pack is listed with its SHA-256 in `SHA256SUMS` and "
        "`manifest.json`; how to check them is at the end of this file and in `VERIFY.txt`.",
        "",
    ]
    if drafts:
        out += [
            f"**DRAFT.** {len(drafts)} of the {len(meta['scope']['deployments'])} assessments "
            "in this pack are drafts, not finalized: their results may still change, and every "
            "page of every report says DRAFT. Drafts: "
            + ", ".join(f"{d['deployment']} {d['assessment']}" for d in drafts)
            + ".",
            "",
        ]
    out += [
        "## What it covers",
        "",
        f"- As of **{as_of}**: for each deployment, the assessment in force then (the latest "
        "dated on or before it), decided as of that date.",
        f"- {t['assessed']} deployment(s) in scope: {t['block']} blocked, {t['conditional']} "
        f"conditional, {t['approve']} approved.",
        f"- Completeness: {completeness['statement']} The list, with counts of results, "
        "evidence and acceptances, is `completeness.json`.",
        f"- Frameworks reported on: {', '.join(meta['scope']['frameworks'])}.",
        "",
        _table(
            ["deployment", "assessment", "date", "state", "tier", "decision", "file as imported"],
            [
                [
                    d["deployment"],
                    d["assessment"],
                    d["date"],
                    d["state"],
                    d["tier"],
                    d["decision"],
                    d["document"]["path"] if d["document"] else "not stored (imported earlier)",
                ]
                for d in meta["deployments"]
            ],
        ),
        "",
        "## Layout",
        "",
        "| path | what it is |",
        "|---|---|",
        "| `README.md` | this file |",
        "| `reports/summary.pdf`, `.xlsx` | the portfolio's posture (for leadership) |",
        "| `reports/plan.pdf`, `.xlsx` | plan of action and milestones, re-assessment calendar, "
        "evidence to request, not-applicable register (for the GRC team) |",
        "| `reports/deployments/DEPLOYMENT/gap.pdf`, `.xlsx` | one deployment: decision, "
        "profile, gaps with owner and due date, every check and control |",
        "| `reports/evidence/FRAMEWORK.pdf`, `.xlsx` | one framework control by control across "
        "every deployment, with each result, how it was tested, its evidence and hashes (for "
        "the auditor) |",
        "| `deployments/DEPLOYMENT/decision.json` | the decision as the `gate` command gives "
        "it: tier and why, every blocker and condition with its reason, checks taken as not "
        "applicable, safety scores, the policy |",
        "| `deployments/DEPLOYMENT/oscal-assessment-results.json` | the same assessment as an "
        "OSCAL 1.2 assessment-results document |",
        "| `deployments/DEPLOYMENT/assessment-as-imported/` | the assessment file exactly as "
        "it was imported (its SHA-256 is in the import event of `audit/trail.json`) |",
        "| `evidence/DEPLOYMENT/CHECK/` | every evidence file, and every snapshot of what an "
        "evidence link showed, under its original name |",
        "| `data/` | the exact catalog, checks, mapping and policy files the assessments were "
        "made against, byte for byte |",
        "| `audit/trail.json` | the audit-trail events for this scope, up to the head the pack "
        "was built from, with the hashes that chain them |",
        "| `completeness.json` | every deployment in the database, in scope or not, with counts |",
        "| `manifest.json` | every file with SHA-256 and size, the scope, catalog versions, "
        "policy, tool version, the evidence index and the audit head |",
        "| `VERIFY.txt`, `SHA256SUMS`"
        + (f", `{SIGNATURE}`" if signer else "")
        + " | how to verify, the hashes"
        + (" and their signature" if signer else "")
        + " |",
        "",
        "## Statuses",
        "",
        "- A **result** on a check (or directly on a framework control): `pass`, `fail`, "
        "`partial` or `not_applicable` (which needs a justification; the policy names checks "
        f"that can never be not applicable: {', '.join(pol.not_applicable.never) or 'none'}; "
        "such a result counts as no result).",
        "- A **framework control**, rolled up from the results of the checks mapped to it "
        "(not-applicable results ignored): `unmapped` (no check maps to it), `not_applicable` "
        "(every mapped check not applicable), `not_assessed` (no result), `gap` (any fail), "
        "`met` only when every result passed and what passed covers the whole control (a check "
        "mapped `equal` or `superset`; for a threat, every check that `mitigates` it; or a set "
        "of `subset`/`intersects` checks the mapping data declares sufficient, with a "
        "rationale), otherwise `partial`. A result recorded directly on a control overrides "
        "the roll-up.",
        "- A framework's **score**: met counts 1, partial 0.5, over the controls that are "
        "neither not applicable nor unmapped; always shown with its **coverage** (how many of "
        "the assessable controls are mapped and how many were assessed).",
        "",
        "## The decision",
        "",
        "As of a date D: the deployment's assessment is its latest dated on or before D. A "
        "required check that is `fail`, `partial` or has no result blocks, unless an active "
        "risk acceptance (approved on or before D, expiring on or after D, within the policy's "
        "limits) covers it: then it is a condition. A required pass resting only on evidence "
        "older than its maximum age, and a re-assessment overdue at D, are conditions"
        + (
            " (the policy makes stale evidence a blocker)"
            if pol.evidence_freshness and pol.evidence_freshness.severity == "blocker"
            else ""
        )
        + ". A missing safety score or any score under its minimum blocks; a high score never "
        "waives a check. A profile that leaves tools, data access or audit logging undefined "
        "blocks. Any blocker: BLOCK; else any condition: CONDITIONAL; else APPROVE.",
        "",
        f"## The policy applied: {pol.id} {pol.version}",
        "",
        f"{pol.name}. SHA-256 `{policy.file.sha256}`, the file itself at "
        f"`{meta['policy']['path']}`. The risk tier is the highest whose condition the "
        "deployment's profile meets; required checks accumulate from the lowest tier up.",
        "",
        _table(
            [
                "tier",
                "adds the checks",
                "min. safety score",
                "acceptance at most (days)",
                "re-assess after (days)",
                "gap due after (days)",
            ],
            [
                [
                    tr.id,
                    ", ".join(tr.requires),
                    f"{tr.min_safety_score:.2f}",
                    tr.acceptance_max_days,
                    tr.reassessment_days,
                    tr.remediation_days,
                ]
                for tr in pol.tiers
            ],
        ),
        "",
    ]
    if pol.additional_requirements:
        out += ["Required whatever the tier:", ""]
        out += [f"- {', '.join(r.requires)}: {r.reason}" for r in pol.additional_requirements]
        out += [""]
    if pol.evidence_freshness:
        f = pol.evidence_freshness
        per = ", ".join(f"{k} {v}" for k, v in sorted(f.checks.items()))
        out += [
            f"Evidence freshness: at most {f.default_max_age_days} days old at the as-of date"
            + (f" ({per} days for these checks)" if per else "")
            + ".",
            "",
        ]
    out += [
        "## Catalog versions",
        "",
        _table(
            ["kind", "id", "version", "SHA-256", "file in this pack"],
            [[c["kind"], c["id"], c["version"], c["sha256"], c["path"]] for c in meta["catalogs"]],
        ),
        "",
        "## The audit trail",
        "",
    ]
    if head is not None:
        out += [
            f"The pack was built from the data recorded up to event {head.events} of the audit "
            f"trail, whose hash is `{head.hash}`. `audit/trail.json` holds the "
            f"{len(trail['events'])} events of this scope up to it (catalog loads, imports and "
            "finalizations), each with its position and the hashes that chain it; "
            f"{trail['hash_rule']}.",
            "",
        ]
    else:
        out += ["The database's audit trail is empty.", ""]
    out += ["## How to verify", ""]
    if custom_templates:
        out += [
            "The reports were rendered with custom templates (`template_overrides` in "
            "`manifest.json`): compare what they say with the data files of this pack.",
            "",
        ]
    out += [
        "With the tool: `compliance pack verify PACK.zip`"
        + (" --signer signer.pub" if signer else "")
        + ". Without it, with bash, coreutils and unzip"
        + (" and OpenSSH" if signer else "")
        + ", in an empty folder holding the pack as `PACK.zip`"
        + (" and the signer's public key as `signer.pub`" if signer else "")
        + ":",
        "",
    ]
    for i, step in enumerate(verify_steps(head, signer), 1):
        text, *commands = step.split("\n")
        out.append(f"{i}. {text}")
        if commands:
            out.append("")
            out.append("   ```sh")
            out += [f"   {c.removeprefix('$ ')}" for c in commands]
            out.append("   ```")
        out.append("")
    return "\n".join(out)
