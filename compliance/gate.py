"""Risk tier and deployment decision: pure functions of a profile, results and a policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from compliance.policy import Condition, Policy

BLOCKING_STATUSES = ("fail", "partial")
DECISIONS = ("APPROVE", "CONDITIONAL", "BLOCK")


@dataclass(frozen=True)
class Tool:
    name: str
    access: str


@dataclass(frozen=True)
class Profile:
    """The parts of a deployment profile the policy reads. `None` means undefined."""

    tools: tuple[Tool, ...] | None
    data: tuple[str, ...] | None
    authority: tuple[str, ...] = ()
    autonomy: str | None = None
    customer_facing: bool = False
    audit_logging: str | None = None
    memory: str | None = None  # none | session | persistent; None: not stated
    agents: tuple[str, ...] | None = None  # the agents it talks to; None: not stated

    @property
    def memory_state(self) -> str:
        return self.memory or "unstated"

    @property
    def agents_state(self) -> str:
        if self.agents is None:
            return "unstated"
        return "some" if self.agents else "none"


@dataclass(frozen=True)
class Score:
    benchmark: str
    version: str
    score: float


@dataclass(frozen=True)
class CheckResult:
    """What the decision reads of a check's result."""

    status: str
    justification: str | None = None  # the notes; for not_applicable, the justification
    # The collection date of each evidence item (None: not stated, its age then counts from
    # the assessment date).
    evidence_dates: tuple[date | None, ...] = ()


@dataclass(frozen=True)
class Acceptance:
    check: str
    approved_by: str
    justification: str
    expires: date
    approved_on: date | None = None  # None: approved on the assessment date
    approver_role: str | None = None


@dataclass(frozen=True)
class Finding:
    """A blocker or a condition, with its reason in plain words.

    `kind` says what it is about: `profile`, `safety_score`, `check` (a required check not
    met), `acceptance` (a check not met, covered by a risk acceptance), `stale_evidence` or
    `reassessment`.
    """

    check: str | None
    reason: str
    expires: date | None = None
    approved_by: str | None = None
    kind: str = "check"
    scope: str | None = None  # for `profile`: the part left undefined (tools, data or audit)


@dataclass(frozen=True)
class ScoreVerdict:
    benchmark: str
    version: str
    score: float
    minimum: float
    below_minimum: bool


@dataclass(frozen=True)
class NotApplicable:
    check: str
    justification: str


@dataclass(frozen=True)
class Decision:
    tier: str
    tier_reasons: tuple[str, ...]
    decision: str
    as_of: date
    min_safety_score: float
    required_checks: tuple[str, ...]
    blockers: tuple[Finding, ...] = field(default_factory=tuple)
    conditions: tuple[Finding, ...] = field(default_factory=tuple)
    safety_scores: tuple[ScoreVerdict, ...] = field(default_factory=tuple)
    not_applicable: tuple[NotApplicable, ...] = field(default_factory=tuple)
    reassessment_due: date | None = None


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))


def explain(cond: Condition, p: Profile) -> list[str]:
    """Why `cond` holds for `p`, as plain phrases; empty when it does not hold."""
    tools = p.tools or ()
    data = set(p.data or ())
    if cond.authority_any is not None:
        hit = set(p.authority) & set(cond.authority_any)
        return [f"authority includes {_quoted(hit)}"] if hit else []
    if cond.authority_nonempty is not None:
        has = bool(p.authority)
        if has == cond.authority_nonempty:
            return [
                f"acts on a person's behalf ({_quoted(p.authority)})"
                if has
                else "no delegated authority"
            ]
        return []
    if cond.tool_access_any is not None:
        hit_tools = [t for t in tools if t.access in cond.tool_access_any]
        if not hit_tools:
            return []
        listed = ", ".join(f"{t.name} ({t.access})" for t in hit_tools[:5])
        more = f" and {len(hit_tools) - 5} more" if len(hit_tools) > 5 else ""
        return [f"tools with {'/'.join(cond.tool_access_any)} access: {listed}{more}"]
    if cond.data_any is not None:
        hit = data & set(cond.data_any)
        return [f"reaches {_quoted(hit)} data"] if hit else []
    if cond.autonomy_in is not None:
        return [f"autonomy is {p.autonomy}"] if p.autonomy in cond.autonomy_in else []
    if cond.customer_facing is not None:
        if p.customer_facing == cond.customer_facing:
            return ["customer-facing" if p.customer_facing else "not customer-facing"]
        return []
    if cond.memory_in is not None:
        if p.memory_state not in cond.memory_in:
            return []
        return [
            "the profile does not say what the agent remembers"
            if p.memory is None
            else f"memory is {p.memory}"
        ]
    if cond.agents_in is not None:
        if p.agents_state not in cond.agents_in:
            return []
        if p.agents is None:
            return ["the profile does not say which agents it talks to"]
        return [
            f"talks to other agents ({_quoted(p.agents)})"
            if p.agents
            else "talks to no other agent"
        ]
    if cond.all is not None:
        parts = [explain(c, p) for c in cond.all]
        return [" and ".join(x for part in parts for x in part)] if all(parts) else []
    assert cond.any is not None
    return [reason for c in cond.any for reason in explain(c, p)]


def tier_of(profile: Profile, policy: Policy) -> tuple[str, tuple[str, ...]]:
    """The highest tier whose condition matches, with the reasons it matched."""
    for tier in reversed(policy.tiers):
        if tier.when is None:
            return tier.id, ("no higher-tier condition applies",)
        reasons = explain(tier.when, profile)
        if reasons:
            return tier.id, tuple(reasons)
    raise AssertionError("policy validation guarantees a default tier")


def required_checks(profile: Profile, tier: str, policy: Policy) -> list[tuple[str, str]]:
    """Checks required for `tier` (cumulative) and by additional rules, each with why."""
    out: dict[str, str] = {}
    for t in policy.tiers:
        for cid in t.requires:
            out.setdefault(
                cid,
                f"required at the {tier} tier"
                if t.id == tier
                else f"required from the {t.id} tier up",
            )
        if t.id == tier:
            break
    for req in policy.additional_requirements:
        if explain(req.when, profile):
            for cid in req.requires:
                out.setdefault(cid, f"required because {req.reason}")
    return list(out.items())


_SCOPE_TEXT = {
    "tools": "the tools the agent may invoke are not defined in the profile",
    "data": "the data classifications the agent can reach are not defined in the profile",
    "audit": "where the agent's actions are logged is not defined in the profile",
}


def assessment_at(dated: Iterable[tuple[date, int]], as_of: date) -> int | None:
    """The assessment in force at `as_of`: of (date, id) pairs, the latest dated on or before
    `as_of` (the later id when two share a date); None when there is none. An assessment dated
    after `as_of` does not exist yet at `as_of`. `store.rollup.latest_query` is the same rule
    in SQL."""
    best: tuple[date, int] | None = None
    for on, ident in dated:
        if on <= as_of and (best is None or (on, ident) > best):
            best = (on, ident)
    return None if best is None else best[1]


def same_person(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def acceptance_problem(
    acc: Acceptance,
    tier: str,
    policy: Policy,
    assessed_on: date,
    assessor: str | None,
) -> str | None:
    """Why the policy does not let this risk acceptance count, whatever the date; None when
    it may (its dates are judged separately, against the as-of date)."""
    approved = acc.approved_on or assessed_on
    tier_def = policy.tier(tier)
    days = (acc.expires - approved).days
    if acc.expires < approved:
        return f"it expires ({acc.expires.isoformat()}) before it was approved ({approved.isoformat()})"
    if tier_def.acceptance_max_days is not None and days > tier_def.acceptance_max_days:
        return (
            f"it lasts {days} days from its approval on {approved.isoformat()}; the policy "
            f"allows at most {tier_def.acceptance_max_days} at the {tier} tier"
        )
    rule = policy.acceptances
    if rule is not None and rule.approver_not_assessor and same_person(acc.approved_by, assessor):
        return f"it was approved by the assessor ({acc.approved_by}); the approver must be someone else"
    if tier_def.approvers is not None and not any(
        same_person(acc.approved_by, who) for who in tier_def.approvers
    ):
        return (
            f"{acc.approved_by} is not among those the policy lets approve at the {tier} tier "
            f"({', '.join(tier_def.approvers)})"
        )
    return None


def _coverage(
    accs: Sequence[Acceptance],
    tier: str,
    policy: Policy,
    as_of: date,
    assessed_on: date,
    assessor: str | None,
) -> tuple[Acceptance | None, str | None]:
    """The acceptance covering a check at `as_of` (the one lasting longest), or why none does."""
    active: list[Acceptance] = []
    why: list[tuple[date, str]] = []
    for acc in accs:
        problem = acceptance_problem(acc, tier, policy, assessed_on, assessor)
        approved = acc.approved_on or assessed_on
        if problem is not None:
            why.append(
                (acc.expires, f"the risk acceptance by {acc.approved_by} covers nothing: {problem}")
            )
        elif approved > as_of:
            why.append(
                (
                    acc.expires,
                    f"the risk acceptance by {acc.approved_by} was approved on "
                    f"{approved.isoformat()}, after {as_of.isoformat()}, and covers nothing then",
                )
            )
        elif acc.expires < as_of:
            why.append(
                (
                    acc.expires,
                    f"the risk acceptance by {acc.approved_by} expired on "
                    f"{acc.expires.isoformat()} and covers nothing",
                )
            )
        else:
            active.append(acc)
    if active:
        return max(active, key=lambda a: a.expires), None
    return None, max(why)[1] if why else None


def evidence_age(collected: date | None, assessed_on: date, as_of: date) -> int:
    """Days between when the evidence was collected (else the assessment date) and `as_of`."""
    return (as_of - (collected or assessed_on)).days


def decide(
    profile: Profile,
    results: Mapping[str, str | CheckResult],
    acceptances: Sequence[Acceptance],
    scores: Sequence[Score],
    policy: Policy,
    as_of: date,
    assessed_on: date | None = None,
    assessor: str | None = None,
) -> Decision:
    """Apply the policy as of `as_of` to an assessment dated `assessed_on` (default: `as_of`).
    Every blocker and condition carries its reason; every required check taken as not
    applicable is listed with its justification.

    A safety score is one input: a low or missing score blocks, a high one never waives a check.
    """
    assessed = assessed_on or as_of
    tier, tier_reasons = tier_of(profile, policy)
    tier_def = policy.tier(tier)
    minimum = tier_def.min_safety_score
    blockers: list[Finding] = []
    conditions: list[Finding] = []

    def finding(severity: str, f: Finding) -> None:
        (blockers if severity == "blocker" else conditions).append(f)

    defined = {
        "tools": profile.tools is not None,
        "data": profile.data is not None,
        "audit": bool(profile.audit_logging),
    }
    for scope in policy.must_define:
        if not defined[scope]:
            blockers.append(
                Finding(
                    None,
                    _SCOPE_TEXT[scope] + "; it cannot be approved",
                    kind="profile",
                    scope=scope,
                )
            )

    verdicts = []
    for s in scores:
        floor = policy.minimum_for(s.benchmark, tier)
        verdicts.append(ScoreVerdict(s.benchmark, s.version, s.score, floor, s.score < floor))
    if not scores:
        blockers.append(
            Finding(
                None,
                f"no safety score is recorded; the {tier} tier needs at least {minimum:.2f}",
                kind="safety_score",
            )
        )
    for v in verdicts:
        if v.below_minimum:
            blockers.append(
                Finding(
                    None,
                    f"safety score {v.score:.2f} on {v.benchmark} {v.version} is below the "
                    f"{tier} tier minimum of {v.minimum:.2f}"
                    + ("" if v.minimum == minimum else f" set for {v.benchmark}"),
                    kind="safety_score",
                )
            )

    freshness = policy.evidence_freshness
    stale_severity = freshness.severity if freshness is not None else "condition"
    never_na = set(policy.not_applicable.never)
    not_applicable: list[NotApplicable] = []
    required = required_checks(profile, tier, policy)
    for cid, why in required:
        raw = results.get(cid)
        result = CheckResult(raw) if isinstance(raw, str) else raw
        status = result.status if result else None
        if status == "not_applicable":
            justification = (result.justification or "").strip() if result else ""
            if cid in never_na:
                problem = (
                    f"required check {cid} is recorded as not applicable, which the policy does "
                    f"not allow for {cid}; it counts as no result ({why})"
                )
            elif not justification:
                problem = (
                    f"required check {cid} is recorded as not applicable without a "
                    f"justification; it counts as no result ({why})"
                )
            else:
                not_applicable.append(NotApplicable(cid, justification))
                continue
        elif status is None:
            problem = f"no result recorded for required check {cid} ({why})"
        elif status in BLOCKING_STATUSES:
            verb = "failed" if status == "fail" else "is only partially met"
            problem = f"required check {cid} {verb} ({why})"
        else:
            assert result is not None
            if freshness is not None and result.evidence_dates:
                limit = freshness.max_age(cid)
                ages = [evidence_age(d, assessed, as_of) for d in result.evidence_dates]
                if min(ages) > limit:
                    finding(
                        stale_severity,
                        Finding(
                            cid,
                            f"evidence stale: the pass of required check {cid} rests only on "
                            f"evidence {min(ages)} days old as of {as_of.isoformat()}, older than "
                            f"the {limit} days the policy allows",
                            kind="stale_evidence",
                        ),
                    )
            continue
        accepted, no_cover = _coverage(
            [a for a in acceptances if a.check == cid], tier, policy, as_of, assessed, assessor
        )
        if accepted is not None:
            conditions.append(
                Finding(
                    cid,
                    f"{problem}; risk accepted by {accepted.approved_by} until "
                    f"{accepted.expires.isoformat()}: {accepted.justification}",
                    expires=accepted.expires,
                    approved_by=accepted.approved_by,
                    kind="acceptance",
                )
            )
        else:
            blockers.append(Finding(cid, problem + (f"; {no_cover}" if no_cover else "")))

    due: date | None = None
    if tier_def.reassessment_days is not None:
        due = assessed + timedelta(days=tier_def.reassessment_days)
        if as_of > due:
            finding(
                policy.reassessment.severity,
                Finding(
                    None,
                    f"re-assessment overdue: due on {due.isoformat()}, {tier_def.reassessment_days} "
                    f"days after the assessment of {assessed.isoformat()} at the {tier} tier",
                    kind="reassessment",
                ),
            )

    outcome = "BLOCK" if blockers else "CONDITIONAL" if conditions else "APPROVE"
    return Decision(
        tier=tier,
        tier_reasons=tier_reasons,
        decision=outcome,
        as_of=as_of,
        min_safety_score=minimum,
        required_checks=tuple(cid for cid, _ in required),
        blockers=tuple(blockers),
        conditions=tuple(conditions),
        safety_scores=tuple(verdicts),
        not_applicable=tuple(not_applicable),
        reassessment_due=due,
    )
