"""Build assessment documents with one call; override only what a test is about."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

LOW_REQUIRED = ["GOV-01", "GOV-02", "GOV-03", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"]
AS_OF = "2026-11-20"  # the date the factories' assessments are made on; tests decide as of it


def deployment(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "test-agent",
        "name": "Test agent",
        "owner": "owner@example.com",
        "environment": "production",
        "business_process": "internal search",
        "model": {
            "name": "example-model",
            "version": "2026-05",
            "safety_scores": [
                {"benchmark": "example-safety-suite", "version": "3.1", "score": 0.95}
            ],
        },
        "identity": {"workload_identity": "spiffe://example.org/test", "credentials": "per_task"},
        "tools": [{"name": "search-api", "access": "read"}],
        "data": ["internal"],
        "authority": [],
        "autonomy": "human_in_loop",
        "customer_facing": False,
        "audit": {"logging": "siem://test"},
        "memory": "none",
        "agents": [],
    }
    base.update(overrides)
    return base


def results(checks: list[str], status: str = "pass") -> list[dict[str, Any]]:
    return [{"check": c, "status": status, "notes": f"{c} reviewed"} for c in checks]


def assessment_doc(
    *,
    deployment_overrides: dict[str, Any] | None = None,
    results_list: list[dict[str, Any]] | None = None,
    **assessment_overrides: Any,
) -> dict[str, Any]:
    doc = {
        "deployment": deployment(**(deployment_overrides or {})),
        "assessment": {
            "id": "2026-Q4",
            "date": "2026-11-20",
            "assessor": "assessor@example.com",
            "results": results(LOW_REQUIRED) if results_list is None else results_list,
            "acceptances": [],
        },
    }
    doc["assessment"].update(assessment_overrides)
    return copy.deepcopy(doc)


def write(folder: Path, doc: Any, name: str = "assessment.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name.endswith(".json"):
        path.write_text(json.dumps(doc, indent=2, default=str))
    else:
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
