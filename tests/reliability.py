"""Shared helpers of the reliability tests (crash, concurrency, migrations, fuzzing).

Workloads are generated deterministically from a seed; the *shape* of a workload (how many
files, results, evidence items, acceptances) depends only on the seed, never on the prefix of
its deployment ids, so two workloads with the same seed and different prefixes write exactly the
same number of rows and evidence blobs, with different content.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, text

from compliance.evidence import STORE_MARKER
from compliance.resources import mappings_dir

ROOT = Path(__file__).resolve().parent.parent
WORKERS = Path(__file__).resolve().parent / "workers"
STATUSES = ("pass", "fail", "partial", "not_applicable")
# Error text that must never reach a user of a command that succeeded or was retried.
LOCK_ERRORS = (
    "database is locked",
    "database table is locked",
    "deadlock detected",
    "could not serialize",
    "lock not available",
    "could not obtain lock",
)


def check_ids() -> list[str]:
    doc = yaml.safe_load((mappings_dir() / "checks.yaml").read_text(encoding="utf-8"))
    return [c["id"] for c in doc["checks"]]


def env_int(name: str, default: int) -> int:
    """A bound of the reliability tests, larger under `make soak`."""
    value = os.environ.get(name)
    if value:
        return int(value)
    if os.environ.get("COMPLIANCE_SOAK") == "1":
        return default * 10
    return default


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Print the figures of a run and, with $COMPLIANCE_FIGURES_DIR, keep them as JSON."""
    line = json.dumps(figures, sort_keys=True, default=str)
    sys.stdout.write(f"\n[figures] {name}: {line}\n")
    folder = os.environ.get("COMPLIANCE_FIGURES_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{name}.json").write_text(
            json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n"
        )


@dataclass
class Workload:
    """An import of many assessment files, with what it must write when it lands."""

    folder: Path
    prefix: str
    files: int = 0
    results: int = 0
    evidence: int = 0
    file_evidence: int = 0
    acceptances: int = 0
    safety_scores: int = 0
    blobs: set[str] = field(default_factory=set)

    def expected(self, catalogs_per_assessment: int) -> dict[str, int]:
        return {
            "deployments": self.files,
            "assessments": self.files,
            "results": self.results,
            "evidence": self.evidence,
            "risk_acceptances": self.acceptances,
            "safety_scores": self.safety_scores,
            "assessment_catalogs": self.files * catalogs_per_assessment,
            "audit_events": self.files,
        }


def write_workload(
    folder: Path,
    prefix: str,
    *,
    files: int,
    seed: int,
    evidence_kib: tuple[int, int] = (1, 24),
    checks: list[str] | None = None,
) -> Workload:
    """`files` assessment files (one deployment each) with file and URL evidence under `folder`."""
    shape = random.Random(seed)
    checks = checks or check_ids()
    w = Workload(folder, prefix)
    for i in range(files):
        dep_id = f"{prefix}-{i:03d}"
        base = folder / dep_id
        (base / "evidence").mkdir(parents=True, exist_ok=True)
        chosen = shape.sample(checks, shape.randint(6, len(checks)))
        results = []
        for n, check in enumerate(chosen):
            status = shape.choice(STATUSES)
            evidence: list[dict[str, Any]] = []
            for k in range(shape.choice((0, 1, 1, 2))):
                if shape.random() < 0.6:
                    name = f"evidence/{check.lower()}-{k}.txt"
                    size = shape.randint(*evidence_kib) * 1024
                    head = f"{dep_id} {check} {k}\n".encode()
                    body = (head * (size // len(head) + 1))[:size]
                    (base / name).write_bytes(body)
                    w.blobs.add(hashlib.sha256(body).hexdigest())
                    evidence.append({"file": name, "description": f"export {k}"})
                    w.file_evidence += 1
                else:
                    evidence.append({"url": f"https://wiki.example.com/{dep_id}/{check}/{k}"})
            w.evidence += len(evidence)
            results.append(
                {
                    "check": check,
                    "status": status,
                    "notes": f"{check} reviewed ({n})",
                    "evidence": evidence,
                }
            )
        acceptances = [
            {
                "check": r["check"],
                "approved_by": "ciso@example.com",
                "justification": "Remediation planned",
                "expires": "2027-03-31",
            }
            for r in results
            if r["status"] in ("fail", "partial") and shape.random() < 0.3
        ]
        scores = [
            {"benchmark": f"suite-{j}", "version": "1", "score": round(shape.random(), 3)}
            for j in range(shape.randint(0, 2))
        ]
        doc = {
            "deployment": {
                "id": dep_id,
                "name": f"Agent {dep_id}",
                "owner": "owner@example.com",
                "environment": "production",
                "model": {"name": "m", "version": "1", "safety_scores": scores},
                "tools": [{"name": "api", "access": shape.choice(["read", "write"])}],
                "data": ["internal"],
                "authority": [],
                "autonomy": "human_in_loop",
                "customer_facing": False,
                "audit": {"logging": "siem://x"},
            },
            "assessment": {
                "id": "2026-Q4",
                "date": "2026-11-20",
                "assessor": "assessor@example.com",
                "results": results,
                "acceptances": acceptances,
            },
        }
        (base / "assessment.json").write_text(json.dumps(doc, indent=1))
        w.files += 1
        w.results += len(results)
        w.acceptances += len(acceptances)
        w.safety_scores += len(scores)
    return w


def counts(engine: Engine, prefix: str) -> dict[str, int]:
    """Rows written for the deployments whose id starts with `prefix-`."""
    like = {"p": f"{prefix}-%"}
    dep = "SELECT id FROM deployments WHERE key LIKE :p"
    asm = f"SELECT id FROM assessments WHERE deployment_id IN ({dep})"
    res = f"SELECT id FROM results WHERE assessment_id IN ({asm})"
    queries = {
        "deployments": f"SELECT count(*) FROM deployments WHERE key LIKE :p",  # noqa: F541
        "assessments": f"SELECT count(*) FROM ({asm}) a",
        "results": f"SELECT count(*) FROM ({res}) r",
        "evidence": f"SELECT count(*) FROM evidence WHERE result_id IN ({res})",
        "risk_acceptances": f"SELECT count(*) FROM risk_acceptances WHERE assessment_id IN ({asm})",
        "safety_scores": f"SELECT count(*) FROM safety_scores WHERE assessment_id IN ({asm})",
        "assessment_catalogs": f"SELECT count(*) FROM assessment_catalogs WHERE assessment_id IN ({asm})",
        "audit_events": "SELECT count(*) FROM audit_events "
        "WHERE action = 'assessment.import' AND subject LIKE :p",
    }
    with engine.connect() as conn:
        return {k: int(conn.execute(text(q), like).scalar_one()) for k, q in queries.items()}


@dataclass
class StoreState:
    referenced: int  # distinct blobs the database points to, each present and intact
    stored: int  # blobs in the store
    unreferenced: int  # blobs no row points to (left by an interrupted import)
    incoming: int  # temporary `.incoming-*` files left by an interrupted write
    problems: list[str]


def check_store(engine: Engine, store: Path, prefix: str | None = None) -> StoreState:
    """Every evidence file the database references is in the store, complete and intact.

    Each referenced file's size is checked; its SHA-256 too, for every file or (with `prefix`)
    for those of the deployments whose id starts with `prefix-`.
    """
    deep_query = (
        "SELECT DISTINCT coalesce(e.sha256, e.snapshot_sha256) FROM evidence e "
        "JOIN results r ON r.id = e.result_id "
        "JOIN assessments a ON a.id = r.assessment_id "
        "JOIN deployments d ON d.id = a.deployment_id "
        "WHERE (e.kind = 'file' OR e.snapshot_sha256 IS NOT NULL) AND d.key LIKE :p"
    )
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT sha256, size FROM evidence WHERE kind = 'file' UNION "
                "SELECT DISTINCT snapshot_sha256, snapshot_size FROM evidence "
                "WHERE snapshot_sha256 IS NOT NULL"
            )
        ).all()
        deep = (
            None
            if prefix is None
            else set(conn.execute(text(deep_query), {"p": f"{prefix}-%"}).scalars())
        )
    problems = []
    referenced = set()
    for sha, size in rows:
        referenced.add(sha)
        blob = store / sha[:2] / sha[2:]
        if not blob.is_file():
            problems.append(f"{sha}: referenced but missing from the store")
            continue
        stored_size = blob.stat().st_size
        if stored_size != size:
            problems.append(f"{sha}: {stored_size} bytes in the store, {size} in the database")
        if (deep is None or sha in deep) and hashlib.sha256(blob.read_bytes()).hexdigest() != sha:
            problems.append(f"{sha}: the stored file does not hash to its name")
    blobs, incoming = set(), 0
    if store.exists():
        for p in store.rglob("*"):
            if p.is_dir() or p.name == STORE_MARKER:
                continue
            if p.name.startswith("."):
                incoming += 1
            else:
                blobs.add(p.parent.name + p.name)
    return StoreState(len(referenced), len(blobs), len(blobs - referenced), incoming, problems)


def sqlite_integrity(engine: Engine) -> str:
    if engine.dialect.name != "sqlite":
        return "ok"
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar_one())
