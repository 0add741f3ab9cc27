"""Concurrency: 8 importers and 4 report renderers at once, on one SQLite file or one PostgreSQL
database, each a separate `compliance` process released at the same instant by a barrier.

- Every importer imports its own deployments; pairs of importers also import the *same* files,
  and all eight import one common set. Each assessment lands exactly once: for a file imported
  by several processes, one says `imported` and every other `unchanged`, and the database holds
  one assessment, one set of rows and one `assessment.import` audit event for it.
- Renderers write the summary and a gap report as HTML and Excel while the imports run.
- Every process exits 0 and no lock error (`database is locked`, deadlock, serialization
  failure) nor a traceback reaches its output; the final counts are exact and the audit chain
  verifies. SQLite runs in WAL mode with its busy timeout and the CLI's retry.

The `sqlite-short-timeout` case sets the busy timeout to 1 s, so waiting writers do get
`database is locked` from SQLite and the whole-command retry of the CLI must absorb it.

Bounds: $COMPLIANCE_CONCURRENCY_ROUNDS rounds per backend (default 1; `make soak` raises it).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from compliance.store import db
from tests.conftest import Cli
from tests.reliability import (
    LOCK_ERRORS,
    ROOT,
    WORKERS,
    check_store,
    counts,
    env_int,
    record_figures,
    sqlite_integrity,
    write_workload,
)

IMPORTERS = 8
RENDERERS = 4
OWN_FILES = 6  # per importer
SHARED_FILES = 4  # per pair of importers
COMMON_FILES = 2  # imported by all eight
SHORT_TIMEOUT_MS = 1000  # short enough that waiting writers get "database is locked"
ROUNDS = env_int("COMPLIANCE_CONCURRENCY_ROUNDS", 1)
TIMEOUT = 600.0  # hang guard for one round
EXAMPLES = ROOT / "examples"


def _start(
    args: list[str], barrier: Path, log: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path]:
    out = log.with_suffix(".log")
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(WORKERS / "at_barrier.py"), *args],
            env={**env, "COMPLIANCE_BARRIER": str(barrier)},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    return proc, out


def _peak(times: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _e in times] + [(e, -1) for _s, e in times])
    running = peak = 0
    for _t, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.fixture(params=["default", "short-timeout"])
def timeout_case(request: pytest.FixtureRequest, backend: str) -> str:
    if request.param == "short-timeout" and backend != "sqlite":
        pytest.skip("the busy timeout is a SQLite setting")
    return str(request.param)


def test_importers_and_renderers_at_once_land_exactly_once(
    backend: str, timeout_case: str, db_url: str, tmp_path: Path
) -> None:
    store = tmp_path / "evidence-store"
    cli = Cli(db_url, store)
    assert cli("import", str(EXAMPLES)).exit_code == 0  # something to render from the start
    env = dict(os.environ)
    if timeout_case == "short-timeout":
        env["COMPLIANCE_SQLITE_BUSY_TIMEOUT_MS"] = str(SHORT_TIMEOUT_MS)
    base = ["--db", db_url, "--evidence-dir", str(store)]
    engine = db.make_engine(db_url)
    per_assessment = None
    peaks: list[int] = []
    seconds: list[float] = []
    absorbed: list[int] = []  # transient errors the CLI's retry absorbed, per round
    try:
        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM assessments")).scalar_one()
        for rnd in range(ROUNDS):
            work = tmp_path / f"round-{rnd}"
            own = [
                write_workload(work / f"own{i}", f"r{rnd}own{i}", files=OWN_FILES, seed=i)
                for i in range(IMPORTERS)
            ]
            shared = [
                write_workload(work / f"shared{j}", f"r{rnd}shared{j}", files=SHARED_FILES, seed=j)
                for j in range(IMPORTERS // 2)
            ]
            common = write_workload(work / "common", f"r{rnd}common", files=COMMON_FILES, seed=99)
            importers = [
                [own[i].folder, shared[i // 2].folder, common.folder] for i in range(IMPORTERS)
            ]
            out = work / "reports"
            out.mkdir()
            renderers = [
                ["report", "summary", "--format", "html", "-o", str(out / "summary.html")],
                ["report", "summary", "--format", "xlsx", "-o", str(out / "summary.xlsx")],
                [
                    "report",
                    "gap",
                    "payments-recon-agent",
                    "--format",
                    "html",
                    "-o",
                    str(out / "gap.html"),
                ],
                [
                    "report",
                    "gap",
                    "payments-recon-agent",
                    "--format",
                    "xlsx",
                    "-o",
                    str(out / "gap.xlsx"),
                ],
            ]
            assert len(renderers) == RENDERERS
            barrier = work / "barrier"
            barrier.mkdir()
            procs = [
                _start([*base, "import", *map(str, folders)], barrier, work / f"import{i}", env)
                for i, folders in enumerate(importers)
            ] + [
                _start([*base, *args], barrier, work / f"render{i}", env)
                for i, args in enumerate(renderers)
            ]
            deadline = time.monotonic() + TIMEOUT
            while len(list(barrier.glob("ready-*"))) < len(procs):
                assert all(p.poll() is None for p, _ in procs), "a worker died before the start"
                assert time.monotonic() < deadline
                time.sleep(0.01)
            started = time.monotonic()
            (barrier / "go").touch()
            for proc, _log in procs:
                proc.wait(timeout=max(deadline - time.monotonic(), 1))
            seconds.append(time.monotonic() - started)

            outputs = [log.read_text(errors="replace") for _p, log in procs]
            for (proc, log), output in zip(procs, outputs, strict=True):
                assert proc.returncode == 0, f"{log.name}:\n{output}"
                assert "Traceback" not in output and "error:" not in output, output
                assert not any(e in output.lower() for e in LOCK_ERRORS), output
            for _args, name in zip(
                renderers, ("summary.html", "summary.xlsx", "gap.html", "gap.xlsx"), strict=True
            ):
                assert (out / name).stat().st_size > 0
            stamps = [p.read_text().split() for p in barrier.glob("times-*")]
            assert len(stamps) == len(procs)
            peaks.append(_peak([(float(s[0]), float(s[1])) for s in stamps]))
            absorbed.append(sum(int(s[2]) for s in stamps))

            # Exactly once: one `imported` per file, `unchanged` for every other importer of it.
            said = "\n".join(outputs[:IMPORTERS])
            for w, importers_of_it in itertools.chain(
                ((w, 1) for w in own), ((w, 2) for w in shared), [(common, IMPORTERS)]
            ):
                for f in sorted(w.folder.rglob("assessment.json")):
                    assert said.count(f"imported   {f}\n") == 1, f
                    assert said.count(f"unchanged  {f}\n") == importers_of_it - 1, f
                if per_assessment is None:
                    per_assessment = counts(engine, w.prefix)["assessment_catalogs"] // w.files
                assert counts(engine, w.prefix) == w.expected(per_assessment), w.prefix

        total = IMPORTERS * OWN_FILES + IMPORTERS // 2 * SHARED_FILES + COMMON_FILES
        with engine.connect() as conn:
            assessments = conn.execute(text("SELECT count(*) FROM assessments")).scalar_one()
            events = conn.execute(
                text("SELECT count(*) FROM audit_events WHERE action = 'assessment.import'")
            ).scalar_one()
            if backend == "sqlite":
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert assessments == before + ROUNDS * total
        assert events == before + ROUNDS * total
        verify = cli("audit", "verify")
        assert verify.exit_code == 0, verify.output
        state = check_store(engine, store)
        assert state.problems == [] and state.unreferenced == 0 and state.incoming == 0
        assert sqlite_integrity(engine) == "ok"
        record_figures(
            f"concurrency-{backend}-{timeout_case}",
            {
                "backend": backend,
                "busy_timeout": timeout_case,
                "rounds": ROUNDS,
                "processes_per_round": IMPORTERS + RENDERERS,
                "peak_processes_running_at_once": peaks,
                "files_per_round": total,
                "file_imports_per_round": IMPORTERS * (OWN_FILES + SHARED_FILES + COMMON_FILES),
                "seconds_per_round": [round(s, 2) for s in seconds],
                "transient_errors_retried": absorbed,
            },
        )
    finally:
        engine.dispose()
