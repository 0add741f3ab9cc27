"""Risk tier and deployment decision: pure functions of a profile, results and a policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

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
class Acceptance:
    check: str
    approved_by: str
    justification: str
    expires: date


@dataclass(frozen=True)
class Finding:
    """A blocker or a condition, with its reason in plain words."""

    check: str | None
    reason: str
    expires: date | None = None
    approved_by: str | None = None


@dataclass(frozen=True)
class ScoreVerdict:
    benchmark: str
    version: str
    score: float
    minimum: float
    below_minimum: bool


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
            out.setdefault(cid, f"required at {t.id} tier")
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


def decide(
    profile: Profile,
    results: Mapping[str, str],
    acceptances: Sequence[Acceptance],
    scores: Sequence[Score],
    policy: Policy,
    as_of: date,
) -> Decision:
    """Apply the policy as of `as_of`. Every blocker and condition carries its reason.

    A safety score is one input: a low or missing score blocks, a high one never waives a check.
    """
    tier, tier_reasons = tier_of(profile, policy)
    tier_def = next(t for t in policy.tiers if t.id == tier)
    minimum = tier_def.min_safety_score
    blockers: list[Finding] = []
    conditions: list[Finding] = []

    defined = {
        "tools": profile.tools is not None,
        "data": profile.data is not None,
        "audit": bool(profile.audit_logging),
    }
    for scope in policy.must_define:
        if not defined[scope]:
            blockers.append(Finding(None, _SCOPE_TEXT[scope] + "; it cannot be approved"))

    verdicts = tuple(
        ScoreVerdict(s.benchmark, s.version, s.score, minimum, s.score < minimum) for s in scores
    )
    if not scores:
        blockers.append(
            Finding(None, f"no safety score is recorded; {tier} tier needs at least {minimum:.2f}")
        )
    for v in verdicts:
        if v.below_minimum:
            blockers.append(
                Finding(
                    None,
                    f"safety score {v.score:.2f} on {v.benchmark} {v.version} is below the "
                    f"{tier} tier minimum of {minimum:.2f}",
                )
            )

    required = required_checks(profile, tier, policy)
    for cid, why in required:
        status = results.get(cid)
        if status is None:
            problem = f"no result recorded for required check {cid} ({why})"
        elif status in BLOCKING_STATUSES:
            verb = "failed" if status == "fail" else "is only partially met"
            problem = f"required check {cid} {verb} ({why})"
        else:
            continue
        active = [a for a in acceptances if a.check == cid and a.expires >= as_of]
        expired = [a for a in acceptances if a.check == cid and a.expires < as_of]
        if active:
            best = max(active, key=lambda a: a.expires)
            conditions.append(
                Finding(
                    cid,
                    f"{problem}; risk accepted by {best.approved_by} until {best.expires.isoformat()}: "
                    f"{best.justification}",
                    expires=best.expires,
                    approved_by=best.approved_by,
                )
            )
        else:
            if expired:
                last = max(expired, key=lambda a: a.expires)
                problem += (
                    f"; the risk acceptance by {last.approved_by} expired on "
                    f"{last.expires.isoformat()} and covers nothing"
                )
            blockers.append(Finding(cid, problem))

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
        safety_scores=verdicts,
    )
