"""The deployment policy as data: tier rules, required checks, safety-score floors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from compliance.catalogs import CheckId, DataFile, Slug, Text
from compliance.documents import parse_document, read_bounded
from compliance.errors import InvalidInput, Problem
from compliance.validation import StrictModel, validate

Access = Literal["read", "write", "execute", "admin"]
DataClass = Literal["public", "internal", "confidential", "regulated"]
Autonomy = Literal["human_in_loop", "human_on_loop", "autonomous"]
Scope = Literal["tools", "data", "audit"]
_ALL_SCOPES: tuple[Scope, ...] = ("tools", "data", "audit")
# What a profile says of the agent's memory and of the agents it talks to; `unstated` when the
# profile leaves the key out.
MemoryState = Literal["none", "session", "persistent", "unstated"]
AgentsState = Literal["none", "some", "unstated"]
Severity = Literal["condition", "blocker"]
Days = Annotated[int, Field(ge=1, le=36_500)]


class Condition(StrictModel):
    """A test on a deployment profile; exactly one key is set."""

    authority_any: list[str] | None = None
    authority_nonempty: bool | None = None
    tool_access_any: list[Access] | None = None
    data_any: list[DataClass] | None = None
    autonomy_in: list[Autonomy] | None = None
    customer_facing: bool | None = None
    memory_in: list[MemoryState] | None = None
    agents_in: list[AgentsState] | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Condition:
        keys = [k for k, v in self.__dict__.items() if v is not None]
        if len(keys) != 1:
            raise ValueError(
                "expected exactly one of authority_any, authority_nonempty, tool_access_any, "
                "data_any, autonomy_in, customer_facing, memory_in, agents_in, all, any; "
                f"got {keys or 'none'}"
            )
        return self


class Tier(StrictModel):
    id: Slug
    description: str | None = None
    min_safety_score: float = Field(ge=0, le=1)
    requires: list[CheckId] = Field(default_factory=list)
    when: Condition | None = None
    # Version 2: limits that differ by tier (absent: no limit).
    acceptance_max_days: Days | None = None  # an acceptance lasts at most this long
    approvers: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = None
    reassessment_days: Days | None = None  # a re-assessment is due this long after the last
    remediation_days: Days | None = None  # a gap with no due date of its own is due after this


class Requirement(StrictModel):
    when: Condition
    requires: list[CheckId] = Field(min_length=1)
    reason: Text


class Freshness(StrictModel):
    """How old evidence may be at the as-of date before it is flagged as stale."""

    default_max_age_days: int = Field(ge=1, le=36_500)
    checks: dict[CheckId, Annotated[int, Field(ge=1, le=36_500)]] = Field(default_factory=dict)
    # What evidence older than its maximum age makes of a required check's pass.
    severity: Severity = "condition"

    def max_age(self, check: str | None) -> int:
        return (
            self.checks.get(check, self.default_max_age_days)
            if check
            else self.default_max_age_days
        )


class Threshold(StrictModel):
    """A value a check's test procedure names, e.g. the longest acceptable time to revoke access."""

    description: Text
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    values: dict[Slug, Annotated[float, Field(ge=0)]] = Field(min_length=1)  # by tier

    def value(self, tier: str) -> float | None:
        return self.values.get(tier)


class NotApplicableRule(StrictModel):
    # Checks that can never be not applicable; such a result counts as no result.
    never: list[CheckId] = Field(default_factory=list)


class AcceptanceRule(StrictModel):
    approver_not_assessor: bool = True


class Reassessment(StrictModel):
    severity: Severity = "condition"


class Policy(StrictModel):
    schema_: Literal["compliance-policy/1", "compliance-policy/2"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    date: str | None = None
    tiers: list[Tier] = Field(min_length=1)
    additional_requirements: list[Requirement] = Field(default_factory=list)
    must_define: list[Scope] = Field(default_factory=lambda: list(_ALL_SCOPES))
    evidence_freshness: Freshness | None = None
    # Version 2.
    # Minimum score per benchmark (scales differ), by tier; where set it replaces the tier's.
    benchmark_minimums: dict[
        Annotated[str, Field(min_length=1, max_length=300)],
        dict[Slug, Annotated[float, Field(ge=0, le=1)]],
    ] = Field(default_factory=dict)
    not_applicable: NotApplicableRule = Field(default_factory=NotApplicableRule)
    acceptances: AcceptanceRule | None = None
    reassessment: Reassessment = Field(default_factory=Reassessment)
    thresholds: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)], Threshold
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tiers(self) -> Policy:
        ids = [t.id for t in self.tiers]
        if len(set(ids)) != len(ids):
            raise ValueError("tiers: tier ids must be unique")
        if self.tiers[0].when is not None:
            raise ValueError("tiers[0].when: the lowest tier is the default and takes no condition")
        for i, t in enumerate(self.tiers[1:], start=1):
            if t.when is None:
                raise ValueError(f"tiers[{i}].when: required field is missing")
        known = set(ids)
        for name, th in self.thresholds.items():
            for tier in th.values:
                if tier not in known:
                    raise ValueError(f"thresholds.{name}.values.{tier}: unknown tier {tier!r}")
        for bench, by_tier in self.benchmark_minimums.items():
            for tier in by_tier:
                if tier not in known:
                    raise ValueError(f"benchmark_minimums.{bench}.{tier}: unknown tier {tier!r}")
        return self

    def tier(self, tier_id: str) -> Tier:
        return next(t for t in self.tiers if t.id == tier_id)

    def check_ids(self) -> set[str]:
        ids = {c for t in self.tiers for c in t.requires}
        ids.update(c for r in self.additional_requirements for c in r.requires)
        ids.update(self.not_applicable.never)
        return ids

    def minimum_for(self, benchmark: str, tier: str) -> float:
        """The minimum safety score on `benchmark` at `tier`."""
        by_tier = self.benchmark_minimums.get(benchmark)
        if by_tier is not None and tier in by_tier:
            return by_tier[tier]
        return self.tier(tier).min_safety_score


class LoadedPolicy:
    """A validated policy together with the exact file it came from."""

    def __init__(self, policy: Policy, file: DataFile) -> None:
        self.policy = policy
        self.file = file

    def thresholds(self) -> dict[str, Threshold]:
        """The thresholds the checks' test procedures name. A policy of the first format has
        none of its own: the built-in baseline's apply."""
        if self.policy.schema_ != "compliance-policy/1":
            return dict(self.policy.thresholds)
        return dict(_baseline_thresholds())


def _baseline_thresholds() -> dict[str, Threshold]:
    from compliance.resources import mappings_dir

    path = mappings_dir() / "policy.yaml"
    raw = read_bounded(path, "policy.yaml")
    return dict(validate(Policy, parse_document(raw, "policy.yaml"), "policy.yaml").thresholds)


def parse_policy(
    file: DataFile,
    known_checks: set[str] | None = None,
    needed_thresholds: dict[str, list[str]] | None = None,
) -> LoadedPolicy:
    """Validate a policy file; with `known_checks`, refuse requirements naming unknown checks;
    with `needed_thresholds` (threshold -> the checks whose procedures name it), refuse a
    version-2 policy that leaves one undefined."""
    value = parse_document(file.raw, file.label)
    policy = validate(Policy, value, file.label)
    loaded = LoadedPolicy(policy, file)
    problems: list[Problem] = []
    if known_checks is not None:
        problems += [
            Problem(file.label, loc, f"unknown check {cid!r}")
            for loc, cid in _requirement_refs(policy)
            if cid not in known_checks
        ]
    if needed_thresholds:
        problems += threshold_problems(loaded, needed_thresholds)
    if problems:
        raise InvalidInput(problems)
    return loaded


def _requirement_refs(policy: Policy) -> list[tuple[str, str]]:
    refs = [
        (f"tiers[{i}].requires[{j}]", cid)
        for i, t in enumerate(policy.tiers)
        for j, cid in enumerate(t.requires)
    ]
    refs += [
        (f"additional_requirements[{i}].requires[{j}]", cid)
        for i, r in enumerate(policy.additional_requirements)
        for j, cid in enumerate(r.requires)
    ]
    if policy.evidence_freshness is not None:
        refs += [
            (f"evidence_freshness.checks.{cid}", cid) for cid in policy.evidence_freshness.checks
        ]
    refs += [
        (f"not_applicable.never[{i}]", cid) for i, cid in enumerate(policy.not_applicable.never)
    ]
    return refs


def threshold_problems(loaded: LoadedPolicy, needed: dict[str, list[str]]) -> list[Problem]:
    """A version-2 policy must define every threshold the checks' procedures name (`needed`:
    threshold -> the checks naming it) for every tier."""
    policy = loaded.policy
    if policy.schema_ == "compliance-policy/1":
        return []  # the first format had no thresholds; the baseline's values are shown
    problems = []
    tiers = [t.id for t in policy.tiers]
    for name, checks in sorted(needed.items()):
        th = policy.thresholds.get(name)
        if th is None:
            problems.append(
                Problem(
                    loaded.file.label,
                    f"thresholds.{name}",
                    f"required by the test procedure of {', '.join(checks)}; not defined",
                )
            )
            continue
        missing = [t for t in tiers if t not in th.values]
        if missing:
            problems.append(
                Problem(
                    loaded.file.label,
                    f"thresholds.{name}.values",
                    f"no value for tier {', '.join(missing)}",
                )
            )
    return problems


def read_policy_file(path: Path) -> DataFile:
    """Read a policy file named on the command line."""
    return DataFile(path, str(path), read_bounded(path, str(path)), "organisation")
