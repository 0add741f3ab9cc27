"""The roll-up rule for one framework control, stated once in Python.

The database computes the same rule set-based in SQL (`store.rollup`); this function is the
reference the property tests compare it against.

From the results of the checks mapped to a control, ignoring `not_applicable`:
no mapping: `unmapped`; every mapped check not applicable: `not_applicable`; any `fail`: `gap`;
none with a result: `not_assessed`; `met` when every result passed **and** what passed covers
the whole control (a check mapped `equal` or `superset`; for a threat, the checks mitigating it;
or a declared sufficient set of the control's `subset`/`intersects` checks, one of which was
assessed); otherwise `partial`. One narrow check never makes a broad control look met.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

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
COVERING = ("equal", "superset")
ASSESSED_STATUSES = ("met", "partial", "gap", "not_applicable")


@dataclass(frozen=True)
class Mapped:
    """One check mapped to a control, with its result (None: no result)."""

    check: str
    relationship: str
    status: str | None


def covers(
    passed: Iterable[Mapped], nature: str, sufficient: Iterable[Collection[str]] = ()
) -> bool:
    """Whether the passing checks `passed` cover the whole control."""
    passing = [m for m in passed if m.status == "pass"]
    if not passing:
        return False
    if nature == "threat":
        return True  # every check mitigating it passed (the caller has made sure of "every")
    if any(m.relationship in COVERING for m in passing):
        return True
    names = {m.check for m in passing}
    return any(names & set(declared) for declared in sufficient)


def rollup_status(
    mapped: Iterable[Mapped | str | None],
    nature: str = "requirement",
    sufficient: Iterable[Collection[str]] = (),
) -> str:
    """Status of a control from the checks mapped to it.

    `mapped` holds the mapped checks (a bare status or None stands for a check mapped
    `subset`); `nature` is `requirement` or `threat`; `sufficient` lists the sets of checks
    the mapping data declares together cover this control (each mapped `subset` or
    `intersects`).
    """
    items = [m if isinstance(m, Mapped) else Mapped("", "subset", m) for m in mapped]
    if not items:
        return "unmapped"
    considered = [m for m in items if m.status != "not_applicable"]
    if not considered:
        return "not_applicable"
    if any(m.status == "fail" for m in considered):
        return "gap"
    if all(m.status is None for m in considered):
        return "not_assessed"
    if all(m.status == "pass" for m in considered) and covers(considered, nature, sufficient):
        return "met"
    return "partial"


def framework_score(statuses: Iterable[str]) -> float | None:
    """Score over a framework's assessable control statuses: met = 1, partial = 0.5, averaged over
    controls that are neither not_applicable nor unmapped; None when no control counts."""
    counted = [s for s in statuses if s not in ("not_applicable", "unmapped")]
    return sum(SCORE.get(s, 0.0) for s in counted) / len(counted) if counted else None


@dataclass(frozen=True)
class Coverage:
    """How much of a framework (or function) a score rests on: of its assessable controls, how
    many some check is mapped to (or a result was recorded on directly), and how many were
    assessed (their status rests on at least one result)."""

    assessable: int
    mapped: int
    assessed: int

    def as_dict(self) -> dict[str, int]:
        return dict(assessable=self.assessable, mapped=self.mapped, assessed=self.assessed)

    def text(self) -> str:
        return f"{self.assessed} of {self.assessable} assessed"


def coverage(statuses: Iterable[str]) -> Coverage:
    """Coverage of a group of assessable controls from their statuses."""
    values = list(statuses)
    return Coverage(
        assessable=len(values),
        mapped=sum(1 for s in values if s != "unmapped"),
        assessed=sum(1 for s in values if s in ASSESSED_STATUSES),
    )
