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


class Condition(StrictModel):
    """A test on a deployment profile; exactly one key is set."""

    authority_any: list[str] | None = None
    authority_nonempty: bool | None = None
    tool_access_any: list[Access] | None = None
    data_any: list[DataClass] | None = None
    autonomy_in: list[Autonomy] | None = None
    customer_facing: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Condition:
        keys = [k for k, v in self.__dict__.items() if v is not None]
        if len(keys) != 1:
            raise ValueError(
                "expected exactly one of authority_any, authority_nonempty, tool_access_any, "
                f"data_any, autonomy_in, customer_facing, all, any; got {keys or 'none'}"
            )
        return self


class Tier(StrictModel):
    id: Slug
    description: str | None = None
    min_safety_score: float = Field(ge=0, le=1)
    requires: list[CheckId] = Field(default_factory=list)
    when: Condition | None = None


class Requirement(StrictModel):
    when: Condition
    requires: list[CheckId] = Field(min_length=1)
    reason: Text


class Freshness(StrictModel):
    """How old evidence may be at the as-of date before it is flagged as stale."""

    default_max_age_days: int = Field(ge=1, le=36_500)
    checks: dict[CheckId, Annotated[int, Field(ge=1, le=36_500)]] = Field(default_factory=dict)

    def max_age(self, check: str | None) -> int:
        return (
            self.checks.get(check, self.default_max_age_days)
            if check
            else self.default_max_age_days
        )


class Policy(StrictModel):
    schema_: Literal["compliance-policy/1"] = Field(alias="schema")
    id: Slug
    name: Text
    version: Annotated[str, Field(min_length=1, max_length=64)]
    date: str | None = None
    tiers: list[Tier] = Field(min_length=1)
    additional_requirements: list[Requirement] = Field(default_factory=list)
    must_define: list[Scope] = Field(default_factory=lambda: list(_ALL_SCOPES))
    evidence_freshness: Freshness | None = None

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
        return self

    def check_ids(self) -> set[str]:
        ids = {c for t in self.tiers for c in t.requires}
        ids.update(c for r in self.additional_requirements for c in r.requires)
        return ids


class LoadedPolicy:
    """A validated policy together with the exact file it came from."""

    def __init__(self, policy: Policy, file: DataFile) -> None:
        self.policy = policy
        self.file = file


def parse_policy(file: DataFile, known_checks: set[str] | None = None) -> LoadedPolicy:
    """Validate a policy file; with `known_checks`, refuse requirements naming unknown checks."""
    value = parse_document(file.raw, file.label)
    policy = validate(Policy, value, file.label)
    if known_checks is not None:
        problems = [
            Problem(file.label, loc, f"unknown check {cid!r}")
            for loc, cid in _requirement_refs(policy)
            if cid not in known_checks
        ]
        if problems:
            raise InvalidInput(problems)
    return LoadedPolicy(policy, file)


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
    return refs


def read_policy_file(path: Path) -> DataFile:
    """Read a policy file named on the command line."""
    return DataFile(path, str(path), read_bounded(path, str(path)), "organisation")
