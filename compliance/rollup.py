"""The roll-up rule for one framework control, stated once in Python.

The database computes the same rule set-based in SQL (`store.rollup`); this function is the
reference the property tests compare it against.
"""

from __future__ import annotations

from collections.abc import Iterable

CONTROL_STATUSES = ("met", "partial", "gap", "not_assessed", "not_applicable", "unmapped")
RESULT_STATUSES = ("pass", "fail", "partial", "not_applicable")
# What a direct result on a control means for that control's status.
DIRECT_STATUS = {
    "pass": "met",
    "fail": "gap",
    "partial": "partial",
    "not_applicable": "not_applicable",
}
SCORE = {"met": 1.0, "partial": 0.5}


def rollup_status(mapped: Iterable[str | None]) -> str:
    """Status of a control from the results (None: no result) of the checks mapped to it."""
    statuses = list(mapped)
    if not statuses:
        return "unmapped"
    considered = [s for s in statuses if s != "not_applicable"]
    if not considered:
        return "not_applicable"
    if "fail" in considered:
        return "gap"
    if all(s == "pass" for s in considered):
        return "met"
    if all(s is None for s in considered):
        return "not_assessed"
    return "partial"


def framework_score(statuses: Iterable[str]) -> float | None:
    """Score over a framework's assessable control statuses: met = 1, partial = 0.5, averaged over
    controls that are neither not_applicable nor unmapped; None when no control counts."""
    counted = [s for s in statuses if s not in ("not_applicable", "unmapped")]
    return sum(SCORE.get(s, 0.0) for s in counted) / len(counted) if counted else None
