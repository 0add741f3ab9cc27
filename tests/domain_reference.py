"""DOMAIN.md's decision rules written out plainly, independently of the engine.

The engine reads its rules from the policy file and applies them in `compliance.gate`; this
module states the baseline policy of DOMAIN.md directly (tiers, required sets, limits), reading
only the evidence ages from the policy file (DOMAIN.md: "baseline in the policy file"). Tests
compare the engine's answers with these, on random portfolios and dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import yaml

from compliance.resources import mappings_dir

TIERS = ("low", "medium", "high", "critical")
REQUIRED = {
    "low": {"GOV-01", "GOV-02", "GOV-03", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"},
    "medium": {"IDN-01", "IDN-03", "TOOL-02", "SUP-01", "SUP-02", "DATA-03", "GOV-05"},
    "high": {
        "IDN-02",
        "TOOL-03",
        "RUN-01",
        "RUN-03",
        "RUN-04",
        "RUN-05",
        "RUN-06",
        "REV-01",
        "REV-02",
        "AUD-02",
        "SEC-01",
        "GOV-04",
    },
    "critical": {"RUN-02", "RUN-07", "MOD-02", "IR-01"},
}
MIN_SCORE = {"low": 0.6, "medium": 0.7, "high": 0.8, "critical": 0.9}
ACCEPTANCE_DAYS = {"critical": 90, "high": 180, "medium": 365, "low": 365}
REASSESSMENT_DAYS = {"critical": 90, "high": 180, "medium": 365, "low": 365}
NEVER_NOT_APPLICABLE = {"GOV-01", "TOOL-01", "DATA-01", "AUD-01"}
CRITICAL_AUTHORITY = {
    "initiate_payments",
    "change_infrastructure",
    "retrieve_secrets",
    "manage_identities",
}
_FRESHNESS = yaml.safe_load((mappings_dir() / "policy.yaml").read_text())["evidence_freshness"]


def max_age(check: str) -> int:
    return int(_FRESHNESS["checks"].get(check, _FRESHNESS["default_max_age_days"]))


def tier(deployment: dict[str, Any]) -> str:
    tools = deployment.get("tools") or []
    access = {t["access"] for t in tools}
    data = set(deployment.get("data") or [])
    authority = set(deployment.get("authority") or [])
    autonomous = deployment["autonomy"] == "autonomous"
    if authority & CRITICAL_AUTHORITY or "admin" in access or ("regulated" in data and autonomous):
        return "critical"
    if access & {"write", "execute"} or "regulated" in data or deployment["customer_facing"]:
        return "high"
    if autonomous:
        return "high"
    if "confidential" in data or authority:
        return "medium"
    return "low"


def required(deployment: dict[str, Any], t: str) -> set[str]:
    out: set[str] = set()
    for name in TIERS[: TIERS.index(t) + 1]:
        out |= REQUIRED[name]
    access = {x["access"] for x in deployment.get("tools") or []}
    if "regulated" in (deployment.get("data") or []):
        out.add("DATA-02")
    if access & {"execute", "admin"}:
        out.add("SEC-02")
    if deployment.get("memory") in (None, "persistent"):
        out.add("SEC-03")
    if deployment.get("agents") is None or deployment.get("agents"):
        out.add("SEC-04")
    if deployment["customer_facing"]:
        out.add("GOV-06")
    return out


@dataclass
class Answer:
    tier: str
    decision: str
    blocking: set[str] = field(default_factory=set)  # check ids blocking
    conditional: set[str] = field(default_factory=set)  # check ids under condition
    other_blockers: int = 0  # profile and safety score blockers
    overdue: bool = False
    not_applicable: set[str] = field(default_factory=set)


def in_force(docs: list[dict[str, Any]], as_of: date) -> dict[str, Any] | None:
    """The assessment in force at `as_of`: the latest dated on or before it (the later one
    imported when two share a date; `docs` are in import order)."""
    best = None
    for doc in docs:
        if doc["assessment"]["date"] <= as_of and (
            best is None or doc["assessment"]["date"] >= best["assessment"]["date"]
        ):
            best = doc
    return best


def decide(doc: dict[str, Any], as_of: date) -> Answer:
    """The decision on one assessment document as of `as_of`, by DOMAIN.md."""
    dep, a = doc["deployment"], doc["assessment"]
    assessed: date = a["date"]
    t = tier(dep)
    answer = Answer(t, "APPROVE")
    for key in ("tools", "data"):
        if key not in dep:
            answer.other_blockers += 1
    if not (dep.get("audit") or {}).get("logging"):
        answer.other_blockers += 1
    scores = dep["model"].get("safety_scores") or []
    if not scores:
        answer.other_blockers += 1
    answer.other_blockers += sum(1 for s in scores if s["score"] < MIN_SCORE[t])
    results = {r["check"]: r for r in a["results"] if "check" in r}
    for check in required(dep, t):
        r = results.get(check)
        status = r["status"] if r else None
        if status == "not_applicable":
            if check in NEVER_NOT_APPLICABLE or not (r or {}).get("notes", "").strip():
                status = None
            else:
                answer.not_applicable.add(check)
                continue
        if status == "pass":
            assert r is not None
            ages = [(as_of - (e.get("collected") or assessed)).days for e in r.get("evidence", [])]
            if ages and min(ages) > max_age(check):
                answer.conditional.add(check)
            continue
        covered = False
        for acc in a.get("acceptances", []):
            if acc["check"] != check:
                continue
            approved = acc.get("approved_on") or assessed
            long_ok = (acc["expires"] - approved).days <= ACCEPTANCE_DAYS[t]
            other = acc["approved_by"].strip().lower() != a["assessor"].strip().lower()
            if approved <= as_of <= acc["expires"] and long_ok and other:
                covered = True
        (answer.conditional if covered else answer.blocking).add(check)
    if as_of > assessed + timedelta(days=REASSESSMENT_DAYS[t]):
        answer.overdue = True
    if answer.blocking or answer.other_blockers:
        answer.decision = "BLOCK"
    elif answer.conditional or answer.overdue:
        answer.decision = "CONDITIONAL"
    return answer
