"""examples/EXPECTED.yaml and the gate's JSON, in the same words.

EXPECTED.yaml names each blocker and condition by a short id: a check id, `safety_score`,
`undefined:tools|data|audit`, `stale:CHECK` or `reassessment`. `finding_ids` turns the findings
of `compliance gate --json` into those ids, so a test compares lists, not sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from compliance.gate import _SCOPE_TEXT

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ASSESSMENT_SUFFIXES = (".yaml", ".yml", ".json")


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((EXAMPLES / "EXPECTED.yaml").read_text())
    return data


def assessment_files() -> list[str]:
    """Every assessment file of the examples, as a path relative to examples/."""
    return sorted(
        p.relative_to(EXAMPLES).as_posix()
        for p in EXAMPLES.glob("*/*")
        if p.is_file() and p.suffix in ASSESSMENT_SUFFIXES
    )


def _finding_id(finding: dict[str, Any]) -> str:
    kind, check = finding["kind"], finding["check"]
    if kind == "profile":
        # The JSON names the part of the profile left undefined, and the reason says it too.
        scope = finding["scope"]
        assert finding["reason"].startswith(_SCOPE_TEXT[scope]), finding
        return f"undefined:{scope}"
    if kind == "safety_score":
        return "safety_score"
    if kind == "reassessment":
        return "reassessment"
    if kind == "stale_evidence":
        return f"stale:{check}"
    assert kind in ("check", "acceptance") and check, finding
    return str(check)


def finding_ids(findings: list[dict[str, Any]]) -> list[str]:
    return sorted(_finding_id(f) for f in findings)


def outcome(gate: dict[str, Any]) -> dict[str, Any]:
    """The parts of `compliance gate --json` that EXPECTED.yaml states."""
    return dict(
        assessment=gate["assessment"],
        tier=gate["tier"],
        decision=gate["decision"],
        blockers=finding_ids(gate["blockers"]),
        conditions=finding_ids(gate["conditions"]),
        not_applicable=sorted(n["check"] for n in gate["not_applicable"]),
    )


def expected(entry: dict[str, Any]) -> dict[str, Any]:
    """The same parts of an EXPECTED.yaml entry."""
    return dict(
        assessment=str(entry["assessment"]),
        tier=entry["tier"],
        decision=entry["decision"],
        blockers=sorted(entry["blockers"]),
        conditions=sorted(entry["conditions"]),
        not_applicable=sorted(entry["not_applicable"]),
    )
