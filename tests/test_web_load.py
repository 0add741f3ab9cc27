"""The portal's load test, short: a small portfolio, a few clients for a few seconds, no errors.
The full run (1,000 deployments, 50 clients, 30 s) is `make web-load`; figures in
benchmarks/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import web_load


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_load_smoke(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    args = [
        "--deployments",
        "12",
        "--clients",
        "6",
        "--seconds",
        "4",
        "--workers",
        "2",
        "--workdir",
        str(tmp_path),
    ]
    if backend == "sqlite":
        args.append("--sqlite")
    else:
        request.getfixturevalue("pg_template")  # skips (or fails under make test) without a server
    result = web_load.main(args)
    assert result["errors"] == 0, result["error_samples"]
    assert set(result["kinds"]) == {"portfolio", "deployment", "gate"}
    assert all(k["n"] > 0 for k in result["kinds"].values())
