"""The benchmark runner's quick mode keeps every measured code path working.

No timing is asserted here: the figures depend on the machine. What is checked is that every
row of the table is produced, and that the hand-written floors still do the engine's work (the
same rows imported, the same gap matrix), so that the ratios `make bench` prints stay honest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import generate, run


def test_the_yaml_portfolio_holds_the_json_portfolios_values(tmp_path: Path) -> None:
    from compliance.documents import parse_document

    generate.write_portfolio(tmp_path / "j", 3, 2, seed=5)
    generate.write_portfolio(tmp_path / "y", 3, 2, seed=5, fmt="yaml")
    json_files = sorted(p.relative_to(tmp_path / "j") for p in (tmp_path / "j").rglob("*"))
    yaml_files = sorted(p.relative_to(tmp_path / "y") for p in (tmp_path / "y").rglob("*"))
    assert [p.with_suffix("") for p in json_files] == [p.with_suffix("") for p in yaml_files]
    for rel in json_files:
        if rel.suffix != ".json" or "evidence" in rel.parts:
            continue
        source = json.loads((tmp_path / "j" / rel).read_text())
        path = tmp_path / "y" / rel.with_suffix(".yaml")
        value = parse_document(path.read_bytes(), str(path))
        assert json.loads(json.dumps(value, default=str)) == source


def test_generator_is_deterministic_and_uses_the_engines_checks(tmp_path: Path) -> None:
    a = generate.write_portfolio(tmp_path / "a", 6, 2, seed=7)
    b = generate.write_portfolio(tmp_path / "b", 6, 2, seed=7)
    assert a == b
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert files_a == files_b
    doc = json.loads(next((tmp_path / "a").glob("*/2026-Q4.json")).read_text())
    checks = [r["check"] for r in doc["assessment"]["results"] if "check" in r]
    assert checks == generate.check_ids()  # every check assessed, in catalog order
    assert a.assessments == 12 and a.deployments == 6


@pytest.mark.slow
def test_quick_run_produces_every_row(tmp_path: Path) -> None:
    measures = run.main(
        ["--quick", "--sizes", "3,5", "--backends", "sqlite", "--workdir", str(tmp_path)]
    )
    table = (tmp_path / "results.md").read_text(encoding="utf-8")
    for row in run.ROWS:
        assert row.label in table
    metrics = {(m.metric, m.n) for m in measures}
    for metric in (
        "ingest",
        "yaml_ingest",
        "startup_version",
        "startup_help",
        "startup_gate",
        "gate_scaling",
        "gaps_scaling",
        "rollup",
        "excel",
        "pdf",
    ):
        assert {(metric, 3), (metric, 5)} <= metrics
    assert {("parallel_gap", 5), ("parallel_pack", 5)} <= metrics
    # The floors do the same work as the engine: same rows, same matrix.
    assert [m.note for m in measures if m.note] == []
    assert all(m.value is not None and m.value > 0 for m in measures)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["measures"]) == len(measures)
