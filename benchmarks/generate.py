"""A generator of realistic synthetic portfolios, deterministic for a seed.

N deployments with the tier mix of a real organisation (by profile: about 45% low, 30% medium,
18% high, 7% critical), K quarterly assessments each (the latest in 2026-Q4), every one of the
27 baseline checks assessed with a realistic status mix that improves over time, assessor notes
on most results, URL evidence on about a third of the results and *file* evidence on about 12%
(small files, each unique to its deployment, check and quarter, so the evidence store holds one
blob per file), risk acceptances on some failing required checks, and now and then a result
recorded directly on a framework control.

Layout, in the import format: `ROOT/<deployment>/<assessment>.json` (or `.yaml` with `--format
yaml`), evidence files in `ROOT/<deployment>/evidence/`. JSON is what a pipeline exporting
thousands of assessments writes; YAML is what people write and what the README documents first.
The YAML portfolio holds the same values (dates as YAML dates), written block style as PyYAML
writes it, so both import to the same rows.

    python -m benchmarks.generate --deployments 1000 --assessments 4 -o out/bench/portfolio
    python -m benchmarks.generate -n 250 --format yaml -o out/bench/portfolio-yaml
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

GEN_VERSION = 2  # bump when the output changes, so cached portfolios are regenerated
TIER_MIX = (("low", 0.45), ("medium", 0.30), ("high", 0.18), ("critical", 0.07))
LAST_QUARTER = (2026, 4)
DIRECT_CONTROLS = ("nist-csf-2.0/GV.OC-01", "csa-maestro/L3", "nist-ai-rmf-1.0/GOVERN 1.1")
# Share of results with evidence of each kind.
FILE_EVIDENCE = 0.12
URL_EVIDENCE = 0.35
ACCEPTANCE_RATE = 0.35  # of failing or partial required checks
DIRECT_RATE = 0.05  # of assessments with a result recorded directly on a control

REQUIRED = {  # the baseline policy's required checks by tier (mappings/policy.yaml)
    "low": ["GOV-01", "GOV-02", "GOV-03", "MOD-01", "TOOL-01", "DATA-01", "AUD-01"],
    "medium": ["IDN-01", "IDN-03", "TOOL-02", "SUP-01", "SUP-02", "DATA-03", "GOV-05"],
    "high": [
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
    ],
    "critical": ["RUN-02", "RUN-07", "MOD-02", "IR-01"],
}
TIERS = ("low", "medium", "high", "critical")
PROCESSES = (
    "internal search",
    "ticket triage",
    "meeting notes",
    "claims intake",
    "code review",
    "customer support",
    "month-end reconciliation",
    "HR helpdesk",
    "procurement",
    "incident response",
    "infrastructure operations",
    "marketing drafts",
)
TEAMS = ("finance", "platform", "support", "hr", "legal", "security", "data", "sales", "ops")
EXTENSIONS = ("json", "md", "csv", "log")
FORMATS = ("json", "yaml")
DATE_FIELDS = frozenset(("date", "expires", "collected"))


def check_ids() -> list[str]:
    """The engine's own baseline checks, in catalog order, from mappings/checks.yaml."""
    from compliance.resources import mappings_dir

    doc = yaml.safe_load((mappings_dir() / "checks.yaml").read_text(encoding="utf-8"))
    return [c["id"] for c in doc["checks"]]


def required_at(tier: str) -> set[str]:
    out: set[str] = set()
    for t in TIERS[: TIERS.index(tier) + 1]:
        out.update(REQUIRED[t])
    return out


def _tier(rng: random.Random) -> str:
    x = rng.random()
    for tier, share in TIER_MIX:
        if x < share:
            return tier
        x -= share
    return TIER_MIX[-1][0]


def _profile(rng: random.Random, i: int, tier: str) -> dict[str, Any]:
    team = rng.choice(TEAMS)
    process = rng.choice(PROCESSES)
    key = f"{team}-{process.split()[0].lower()}-{i:05d}"
    tools: list[dict[str, str]] = [{"name": f"{team}-search", "access": "read"}]
    data = ["internal"] if rng.random() < 0.6 else ["public", "internal"]
    authority: list[str] = []
    autonomy = "human_in_loop"
    customer_facing = False
    if tier == "medium":
        if rng.random() < 0.6:
            data.append("confidential")
        else:
            authority.append(rng.choice(["schedule_meetings", "file_tickets", "draft_contracts"]))
    elif tier == "high":
        kind = rng.randrange(4)
        if kind == 0:
            tools.append({"name": f"{team}-api", "access": rng.choice(["write", "execute"])})
        elif kind == 1:
            data.append("regulated")
        elif kind == 2:
            customer_facing = True
            tools.append({"name": "crm", "access": "write"})
        else:
            autonomy = "autonomous"
        if rng.random() < 0.3:
            data.append("confidential")
    elif tier == "critical":
        kind = rng.randrange(3)
        if kind == 0:
            authority.append(
                rng.choice(
                    [
                        "initiate_payments",
                        "change_infrastructure",
                        "retrieve_secrets",
                        "manage_identities",
                    ]
                )
            )
            tools.append({"name": f"{team}-ops-api", "access": "write"})
        elif kind == 1:
            tools.append({"name": "kubernetes-admin", "access": "admin"})
        else:
            data.append("regulated")
            autonomy = "autonomous"
    if tier in ("low", "medium") and rng.random() < 0.2:
        autonomy = "human_on_loop"
    profile: dict[str, Any] = {
        "id": key,
        "name": f"{process.capitalize()} agent {i:05d} ({team})",
        "owner": f"{team}-owner-{i % 97:02d}@example.com",
        "environment": rng.choice(["production", "production", "staging"]),
        "business_process": process,
        "model": {
            "name": rng.choice(["example-model", "example-model-mini", "example-model-pro"]),
            "version": rng.choice(["2026-01", "2026-04", "2026-05", "2026-08"]),
            "safety_scores": [
                {
                    "benchmark": "example-safety-suite",
                    "version": "3.1",
                    "score": round(rng.uniform(0.72, 0.99), 2),
                }
            ],
        },
        "identity": {
            "workload_identity": f"spiffe://example.org/{team}/{key}",
            "credentials": rng.choice(["standing", "short_lived", "short_lived", "per_task"]),
        },
        "tools": tools,
        "data": data,
        "authority": authority,
        "autonomy": autonomy,
        "customer_facing": customer_facing,
        "audit": {"logging": f"siem://{team}"},
    }
    if rng.random() < 0.2:
        profile["model"]["safety_scores"].append(
            {
                "benchmark": "agent-redteam-bench",
                "version": "1.4",
                "score": round(rng.uniform(0.7, 0.98), 2),
            }
        )
    if rng.random() < 0.02:
        del profile["audit"]  # undefined audit logging: blocks whatever the checks say
    return profile


def _quarters(k: int) -> list[tuple[int, int]]:
    year, q = LAST_QUARTER
    out = []
    for _ in range(k):
        out.append((year, q))
        q -= 1
        if q == 0:
            year, q = year - 1, 4
    return list(reversed(out))


def _na_chance(check: str, profile: dict[str, Any], tier: str) -> float:
    accesses = {t["access"] for t in profile["tools"]}
    if check == "SEC-02":
        return 0.05 if "execute" in accesses or "admin" in accesses else 0.8
    if check == "SEC-04":
        return 0.6
    if check == "DATA-02":
        return 0.05 if "regulated" in profile["data"] else 0.85
    if check == "RUN-02" and tier in ("low", "medium"):
        return 0.5
    return 0.03


@dataclass
class Stats:
    deployments: int = 0
    assessments: int = 0
    results: int = 0
    file_evidence: int = 0
    url_evidence: int = 0
    acceptances: int = 0
    direct_results: int = 0
    tiers: dict[str, int] = field(default_factory=dict)


def _evidence_body(rng: random.Random, dep: str, check: str, akey: str, ext: str) -> str:
    lines = rng.randrange(6, 40)
    if ext == "json":
        return json.dumps(
            {
                "deployment": dep,
                "check": check,
                "assessment": akey,
                "export": [
                    {"n": n, "value": rng.getrandbits(48), "ok": rng.random() < 0.9}
                    for n in range(lines)
                ],
            },
            indent=1,
        )
    if ext == "csv":
        return "row,item,value\n" + "".join(
            f"{n},{dep}/{check},{rng.getrandbits(40)}\n" for n in range(lines)
        )
    head = f"# {check} evidence for {dep} ({akey})\n\n"
    return head + "".join(
        f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} event {rng.getrandbits(32):08x} "
        f"recorded for {check}\n"
        for _ in range(lines)
    )


def _yaml_dates(value: Any) -> Any:
    """The document with its dates as `date` values, so that YAML writes them unquoted."""
    if isinstance(value, dict):
        return {
            k: date.fromisoformat(v) if k in DATE_FIELDS and isinstance(v, str) else _yaml_dates(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_yaml_dates(v) for v in value]
    return value


def dump(doc: dict[str, Any], fmt: str) -> str:
    """The document as the portfolio writes it."""
    if fmt == "json":
        return json.dumps(doc, indent=1)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(
        _yaml_dates(doc), Dumper=dumper, sort_keys=False, allow_unicode=True, width=100
    )


def write_portfolio(
    root: Path, deployments: int, assessments: int = 4, seed: int = 2026, fmt: str = "json"
) -> Stats:
    """Write the portfolio under `root` (replacing it); return what was written."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    checks = check_ids()
    rng = random.Random(seed)
    stats = Stats()
    quarters = _quarters(assessments)
    for i in range(deployments):
        tier = _tier(rng)
        stats.tiers[tier] = stats.tiers.get(tier, 0) + 1
        profile = _profile(rng, i, tier)
        required = required_at(tier)
        if "regulated" in profile["data"]:
            required.add("DATA-02")
        dep = profile["id"]
        folder = root / dep
        (folder / "evidence").mkdir(parents=True)
        stats.deployments += 1
        maturity = rng.uniform(0.55, 0.93)
        na = {c for c in checks if rng.random() < _na_chance(c, profile, tier)}
        assessor = f"assessor-{rng.randrange(40):02d}@example.com"
        for qi, (year, q) in enumerate(quarters):
            akey = f"{year}-Q{q}"
            when = date(year, 3 * q - 2, 1) + timedelta(days=rng.randrange(0, 55))
            p_pass = min(0.98, maturity + 0.04 * qi)
            p_required = min(0.995, p_pass + 0.12)  # teams fix what blocks approval first
            results: list[dict[str, Any]] = []
            acceptances: list[dict[str, Any]] = []
            for check in checks:
                if check in na:
                    status = "not_applicable"
                elif rng.random() < (p_required if check in required else p_pass):
                    status = "pass"
                else:
                    status = "fail" if rng.random() < 0.35 else "partial"
                r: dict[str, Any] = {"check": check, "status": status}
                # A not_applicable result always carries its justification.
                if status == "not_applicable" or rng.random() < 0.85:
                    r["notes"] = (
                        f"{check} reviewed for {dep} in {akey}: "
                        + {
                            "pass": "control operating as designed; sample of records inspected.",
                            "fail": "control missing or not operating; remediation owner assigned.",
                            "partial": "control in place but incomplete; scope does not cover every tool.",
                            "not_applicable": "not applicable to this deployment's profile.",
                        }[status]
                    )
                evidence: list[dict[str, Any]] = []
                if status != "not_applicable" and rng.random() < FILE_EVIDENCE:
                    ext = rng.choice(EXTENSIONS)
                    name = f"evidence/{check}-{akey}.{ext}"
                    (folder / name).write_text(
                        _evidence_body(rng, dep, check, akey, ext), encoding="utf-8"
                    )
                    item: dict[str, Any] = {"file": name, "description": f"{check} export"}
                    if rng.random() < 0.5:
                        item["collected"] = (
                            when - timedelta(days=rng.randrange(0, 200))
                        ).isoformat()
                    evidence.append(item)
                    stats.file_evidence += 1
                if status != "not_applicable" and rng.random() < URL_EVIDENCE:
                    evidence.append(
                        {
                            "url": f"https://wiki.example.com/{dep}/{check.lower()}",
                            "description": f"{check} record",
                        }
                    )
                    stats.url_evidence += 1
                if evidence:
                    r["evidence"] = evidence
                results.append(r)
                if (
                    status in ("fail", "partial")
                    and check in required
                    and rng.random() < ACCEPTANCE_RATE
                ):
                    # Within the baseline policy's longest acceptance for the tier.
                    longest = {"critical": 90, "high": 180}.get(tier, 365)
                    acceptances.append(
                        {
                            "check": check,
                            "approved_by": f"ciso-delegate-{rng.randrange(5)}@example.com",
                            "justification": f"Compensating controls in place for {check}; fix planned.",
                            "approved_on": when.isoformat(),
                            "expires": (
                                when + timedelta(days=rng.randrange(15, longest))
                            ).isoformat(),
                        }
                    )
            if rng.random() < DIRECT_RATE:
                results.append(
                    {
                        "control": rng.choice(DIRECT_CONTROLS),
                        "status": rng.choice(["pass", "partial", "fail"]),
                        "notes": "Assessed directly against the control text.",
                    }
                )
                stats.direct_results += 1
            doc = {
                "deployment": profile,
                "assessment": {
                    "id": akey,
                    "date": when.isoformat(),
                    "assessor": assessor,
                    "results": results,
                    "acceptances": acceptances,
                },
            }
            (folder / f"{akey}.{fmt}").write_text(dump(doc, fmt), encoding="utf-8")
            stats.assessments += 1
            stats.results += len(results)
            stats.acceptances += len(acceptances)
    return stats


def cached_portfolio(
    cache: Path, deployments: int, assessments: int, seed: int = 2026, fmt: str = "json"
) -> tuple[Path, Stats]:
    """A portfolio for these parameters, generated once under `cache` and reused after."""
    suffix = "" if fmt == "json" else f"-{fmt}"
    root = cache / f"portfolio-n{deployments}-k{assessments}-s{seed}-v{GEN_VERSION}{suffix}"
    marker = root / ".complete.json"
    if marker.is_file():
        return root, Stats(**json.loads(marker.read_text()))
    stats = write_portfolio(root, deployments, assessments, seed, fmt)
    marker.write_text(json.dumps(stats.__dict__))
    return root, stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", "-n", type=int, default=100)
    parser.add_argument("--assessments", "-k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument("-o", "--output", type=Path, default=Path("out/bench/portfolio"))
    args = parser.parse_args(argv)
    stats = write_portfolio(args.output, args.deployments, args.assessments, args.seed, args.format)
    print(json.dumps(stats.__dict__, indent=2))


if __name__ == "__main__":
    main()
