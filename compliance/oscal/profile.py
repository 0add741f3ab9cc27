"""OSCAL profiles: a tier of the policy as the selection of checks it always requires.

A profile selects controls; it cannot say when a tier applies, what minimum safety score it
sets, how long evidence stays fresh or how long a risk acceptance may last. Those travel as
metadata props of this tool (`ns` = NS), each value one line (conditions as compact JSON):

- `tier`, `tier-rank` (1 = lowest), `tier-condition` (when the tier applies; none for the
  lowest), `policy-id`, `policy-version`, `policy-sha256`;
- `min-safety-score`, and `benchmark-minimum` (class: the benchmark) where the policy sets one;
- `acceptance-max-days`, `approver` (one per name), `approver-not-assessor`,
  `reassessment-days`, `remediation-days`, `reassessment-severity`;
- `conditional-requirement`: a check required whatever the tier when the profile says so, as
  JSON `{"requires", "when", "reason"}` (not in the static selection);
- `never-not-applicable`, `must-define`;
- `evidence-max-age-days` (class `default`, or the check id), `evidence-stale-severity`;
- `threshold` (class: its name): this tier's value, with its unit and meaning in the remarks.

The selection (`imports[0].include-controls`) is every check the tier and the tiers below it
require; the checks catalog is a back-matter resource (`compliance export catalog checks`).
"""

from __future__ import annotations

import json
from typing import Any

from compliance.catalogs import Checks
from compliance.errors import NotFound
from compliance.oscal.common import OSCAL_VERSION, line, prop, text_prop, token, uuid_of
from compliance.policy import LoadedPolicy


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def export_tier(policy: LoadedPolicy, tier_id: str, checks: Checks) -> dict[str, Any]:
    """The tier `tier_id` of the policy as an OSCAL profile document."""
    p = policy.policy
    ids = [t.id for t in p.tiers]
    if tier_id not in ids:
        raise NotFound(f"unknown tier {tier_id!r} (tiers of {p.id}: {', '.join(ids)})")
    rank = ids.index(tier_id)
    tier = p.tiers[rank]
    required: list[str] = []
    for t in p.tiers[: rank + 1]:
        required += [c for c in t.requires if c not in required]
    order = {c.id: i for i, c in enumerate(checks.doc.checks)}
    required.sort(key=lambda c: order.get(c, len(order)))

    props: list[dict[str, Any]] = [
        prop("tier", tier.id),
        prop("tier-rank", str(rank + 1), remarks=f"of {len(ids)}; 1 is the lowest"),
    ]
    if tier.when is not None:
        props.append(
            prop(
                "tier-condition",
                _compact(tier.when.model_dump(exclude_none=True)),
                remarks="The deployment gets the highest tier whose condition its profile meets.",
            )
        )
    props += [
        prop("policy-id", p.id),
        prop("policy-version", p.version),
        prop("policy-sha256", policy.file.sha256),
        prop("min-safety-score", str(tier.min_safety_score)),
    ]
    for bench, by_tier in sorted(p.benchmark_minimums.items()):
        if tier.id in by_tier:
            props.append(
                prop("benchmark-minimum", str(by_tier[tier.id]), **{"class": token(bench)})
                | ({"remarks": bench} if token(bench) != bench else {})
            )
    for name, value in (
        ("acceptance-max-days", tier.acceptance_max_days),
        ("reassessment-days", tier.reassessment_days),
        ("remediation-days", tier.remediation_days),
    ):
        if value is not None:
            props.append(prop(name, str(value)))
    props += [text_prop("approver", a) for a in tier.approvers or []]
    if p.acceptances is not None:
        props.append(
            prop(
                "approver-not-assessor", "true" if p.acceptances.approver_not_assessor else "false"
            )
        )
    props.append(prop("reassessment-severity", p.reassessment.severity))
    for r in p.additional_requirements:
        props.append(
            prop(
                "conditional-requirement",
                _compact(
                    {
                        "requires": r.requires,
                        "when": r.when.model_dump(exclude_none=True),
                        "reason": r.reason,
                    }
                ),
            )
        )
    props += [prop("never-not-applicable", c) for c in p.not_applicable.never]
    props += [prop("must-define", scope) for scope in p.must_define]
    if p.evidence_freshness is not None:
        f = p.evidence_freshness
        props.append(
            prop("evidence-max-age-days", str(f.default_max_age_days), **{"class": "default"})
        )
        props += [
            prop("evidence-max-age-days", str(days), **{"class": check})
            for check, days in f.checks.items()
        ]
        props.append(prop("evidence-stale-severity", f.severity))
    for name, th in sorted(policy.thresholds().items()):
        amount = th.value(tier.id)
        if amount is not None:
            shown = str(int(amount)) if float(amount).is_integer() else str(amount)
            props.append(
                prop(
                    "threshold",
                    shown,
                    **{"class": name, "remarks": f"{th.unit}: {line(th.description)}"},
                )
            )

    catalog_uuid = uuid_of("checks-catalog", checks.doc.id, checks.doc.version)
    return {
        "profile": {
            "uuid": uuid_of("profile", p.id, p.version, policy.file.sha256, tier.id),
            "metadata": {
                "title": line(f"{p.name}: {tier.id} tier"),
                "last-modified": _modified(p.date),
                "version": p.version,
                "oscal-version": OSCAL_VERSION,
                "props": props,
                "remarks": (
                    f"The checks the {tier.id} tier of {p.id} {p.version} always requires "
                    f"(its own and those of the tiers below it)"
                    + (f": {tier.description}" if tier.description else ".")
                    + " The policy's conditions, minimum scores, freshness rules and limits "
                    "are props of this tool's namespace, since a profile only selects controls."
                ),
            },
            "imports": [
                {
                    "href": f"#{catalog_uuid}",
                    "include-controls": [{"with-ids": [token(c) for c in required]}],
                }
            ],
            "merge": {"as-is": True},
            "back-matter": {
                "resources": [
                    {
                        "uuid": catalog_uuid,
                        "title": line(f"{checks.doc.name} {checks.doc.version}"),
                        "rlinks": [
                            {
                                "href": f"{checks.doc.id}.oscal.json",
                                "media-type": "application/oscal+json",
                            }
                        ],
                        "remarks": "Written by `compliance export catalog checks --format oscal`.",
                    }
                ]
            },
        }
    }


def _modified(day: str | None) -> str:
    from compliance.oscal.catalog import _day

    return _day(day)
