"""The assessment file format (the import contract), as pydantic models."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool, model_validator

from compliance.catalogs import CheckId
from compliance.validation import StrictModel

ResultStatus = Literal["pass", "fail", "partial", "not_applicable"]
Credentials = Literal["standing", "short_lived", "per_task"]
Access = Literal["read", "write", "execute", "admin"]
DataClass = Literal["public", "internal", "confidential", "regulated"]
Autonomy = Literal["human_in_loop", "human_on_loop", "autonomous"]
Memory = Literal["none", "session", "persistent"]
Method = Literal["examine", "interview", "test"]

MAX_RESULTS = 5_000
MAX_EVIDENCE_PER_RESULT = 500

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError(
            f"expected a date as YYYY-MM-DD, got a date and time {value.isoformat()!r}"
        )
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"expected a date as YYYY-MM-DD, got {value!r} (no such day)"
            ) from None
    raise ValueError(f"expected a date as YYYY-MM-DD, got {value!r}")


def _to_score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    if not 0 <= value <= 1:
        raise ValueError(f"expected a number from 0 to 1, got {value!r}")
    return float(value)


Day = Annotated[date, BeforeValidator(_to_date)]
Score = Annotated[float, BeforeValidator(_to_score)]
Name = Annotated[str, Field(min_length=1, max_length=300)]
Key = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
Note = Annotated[str, Field(max_length=100_000)]
ControlRef = Annotated[
    str, Field(min_length=3, max_length=200, pattern=r"^[a-z0-9][a-z0-9.\-]*/\S.*$")
]


class SafetyScoreIn(StrictModel):
    benchmark: Name
    version: Annotated[str, Field(min_length=1, max_length=100)]
    score: Score


class ModelIn(StrictModel):
    name: Name
    version: Annotated[str, Field(min_length=1, max_length=100)]
    safety_scores: list[SafetyScoreIn] = Field(default_factory=list, max_length=100)


class IdentityIn(StrictModel):
    workload_identity: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    credentials: Credentials | None = None


class ToolIn(StrictModel):
    name: Name
    access: Access


class AuditIn(StrictModel):
    logging: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class DeploymentIn(StrictModel):
    id: Key
    name: Name
    owner: Name
    environment: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    business_process: Name | None = None
    model: ModelIn
    identity: IdentityIn | None = None
    tools: list[ToolIn] | None = Field(default=None, max_length=1000)
    data: list[DataClass] | None = None
    authority: list[
        Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")]
    ] = Field(default_factory=list, max_length=100)
    autonomy: Autonomy
    customer_facing: StrictBool
    audit: AuditIn | None = None
    # What the agent keeps between tasks; not stated when missing.
    memory: Memory | None = None
    # The other agents it exchanges messages with (an empty list: none); not stated when missing.
    agents: list[Name] | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _unique_tools(self) -> DeploymentIn:
        seen: set[str] = set()
        for i, tool in enumerate(self.tools or []):
            if tool.name in seen:
                raise ValueError(f"tools[{i}].name: tool {tool.name!r} is listed twice")
            seen.add(tool.name)
        agents: set[str] = set()
        for i, agent in enumerate(self.agents or []):
            if agent in agents:
                raise ValueError(f"agents[{i}]: agent {agent!r} is listed twice")
            agents.add(agent)
        return self


FilePath = Annotated[str, Field(min_length=1, max_length=1000)]


class EvidenceIn(StrictModel):
    file: FilePath | None = None
    url: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^https?://\S+$")] | None = (
        None
    )
    description: Note | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    # When the evidence was produced (a drill, an export, the day a link was read); when not
    # stated, its age counts from the assessment date.
    collected: Day | None = None
    # For a link: a file (inside the assessment's folder) holding what the link showed.
    snapshot: FilePath | None = None

    @model_validator(mode="after")
    def _one(self) -> EvidenceIn:
        if (self.file is None) == (self.url is None):
            raise ValueError("expected exactly one of file or url")
        if self.sha256 is not None and self.file is None:
            raise ValueError("sha256: only a file has a sha256, not a url")
        if self.snapshot is not None and self.url is None:
            raise ValueError("snapshot: only a url has a snapshot; a file is its own copy")
        return self


def _methods(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class SampleIn(StrictModel):
    size: Annotated[int, Field(ge=0, le=10_000_000)]
    selection: Note | None = None  # how the sample was drawn


class RemediationIn(StrictModel):
    owner: Name
    due: Day


class ResultIn(StrictModel):
    check: CheckId | None = None
    control: ControlRef | None = None
    status: ResultStatus
    notes: Note | None = None
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=MAX_EVIDENCE_PER_RESULT)
    # How it was tested (as in NIST SP 800-53A): one method or a list of them.
    method: (
        Annotated[list[Method], BeforeValidator(_methods), Field(min_length=1, max_length=3)] | None
    ) = None
    tested_by: Name | None = None
    tested_on: Day | None = None
    population: Note | None = None
    sample: SampleIn | None = None
    exceptions: Note | None = None
    remediation: RemediationIn | None = None

    @model_validator(mode="after")
    def _one(self) -> ResultIn:
        if (self.check is None) == (self.control is None):
            raise ValueError("expected exactly one of check or control")
        if self.method is not None and len(set(self.method)) != len(self.method):
            raise ValueError("method: a method is listed twice")
        if self.status == "not_applicable" and not (self.notes or "").strip():
            raise ValueError("notes: a not_applicable result needs its justification in notes")
        return self


class AcceptanceIn(StrictModel):
    check: CheckId
    approved_by: Name
    justification: Annotated[str, Field(min_length=1, max_length=20_000)]
    expires: Day
    approved_on: Day | None = None  # default: the assessment's date
    approver_role: Name | None = None
    compensating_controls: Note | None = None

    @model_validator(mode="after")
    def _order(self) -> AcceptanceIn:
        if self.approved_on is not None and self.expires < self.approved_on:
            raise ValueError(
                f"expires: {self.expires.isoformat()} is before the acceptance was approved "
                f"({self.approved_on.isoformat()})"
            )
        return self


class AssessmentIn(StrictModel):
    id: Key
    date: Day
    assessor: Name
    results: list[ResultIn] = Field(max_length=MAX_RESULTS)
    acceptances: list[AcceptanceIn] = Field(default_factory=list, max_length=MAX_RESULTS)

    @model_validator(mode="after")
    def _no_duplicates(self) -> AssessmentIn:
        seen: dict[str, int] = {}
        for i, r in enumerate(self.results):
            key = r.check or r.control or ""
            field = "check" if r.check else "control"
            if key in seen:
                raise ValueError(
                    f"results[{i}].{field}: {key} already has a result at results[{seen[key]}]"
                )
            seen[key] = i
        accepted: dict[str, int] = {}
        for i, a in enumerate(self.acceptances):
            if a.check in accepted:
                raise ValueError(
                    f"acceptances[{i}].check: {a.check} already has an acceptance at acceptances[{accepted[a.check]}]"
                )
            accepted[a.check] = i
        return self


class AssessmentDoc(StrictModel):
    deployment: DeploymentIn
    assessment: AssessmentIn

    @model_validator(mode="after")
    def _acceptance_dates(self) -> AssessmentDoc:
        for i, a in enumerate(self.assessment.acceptances):
            if a.approved_on is None and a.expires < self.assessment.date:
                raise ValueError(
                    f"assessment.acceptances[{i}].expires: {a.expires.isoformat()} is before the "
                    f"assessment date ({self.assessment.date.isoformat()}), when the acceptance "
                    "counts as approved; give approved_on"
                )
        return self
