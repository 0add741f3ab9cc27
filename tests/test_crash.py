"""Crash consistency: the importer is killed with SIGKILL at random points of a large import.

Each trial imports its own deployments (60 assessment files with about 600 evidence files and
2,700 rows by default) in a real `compliance import` process and kills it with SIGKILL at a point drawn from
one of three strategies, so that kills cover the whole run and the write phase in particular:

- `uniform`: after a delay drawn uniformly from [0, duration of a full import];
- `blob`: when the importer is about to copy the k-th evidence file into the store (k uniform);
- `commit`: when the transaction is about to commit, plus a jitter as long as a commit takes.

The importer reports its progress on a pipe (tests/workers/phase_probe.py: SQLAlchemy event
hooks and a wrapper around EvidenceStore.put; the engine itself is unchanged), so each kill is
classified afterwards by where it landed. After every kill:

- the trial's rows (deployments, assessments, results, evidence, acceptances, safety scores,
  catalog links and `assessment.import` audit events) are either all there or none of them;
- a kill before the commit leaves none, a kill after it leaves all;
- `compliance audit verify` passes;
- every evidence file the database references is in the store, with its size and SHA-256;
- SQLite passes `PRAGMA integrity_check`; on PostgreSQL the killed client's session is gone.

Temporary `.incoming-*` files and blobs no row references may be left behind (nothing points
to them); they are counted and reported. At the end, the uncommitted imports are run again to
completion: an interrupted import leaves nothing that stops it from being retried.

Bounds: $COMPLIANCE_CRASH_TRIALS trials per backend (default 30, in chunks of about 10, each
on its own database), $COMPLIANCE_CRASH_FILES files per import (default 60). `make soak` raises them.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from compliance.store import db
from tests.conftest import Cli
from tests.reliability import (
    LOCK_ERRORS,
    WORKERS,
    Workload,
    check_store,
    counts,
    env_int,
    record_figures,
    sqlite_integrity,
    write_workload,
)

TRIALS = env_int("COMPLIANCE_CRASH_TRIALS", 30)
CHUNKS = max(3, -(-TRIALS // 10))  # about 10 trials per database
FILES = int(os.environ.get("COMPLIANCE_CRASH_FILES", "60"))
EVIDENCE_KIB = (1, 8)  # size range of each evidence file
SEED = int(os.environ.get("COMPLIANCE_CRASH_SEED", "20261120"))
STRATEGIES = ("uniform", "blob", "commit")
RUN_TIMEOUT = 300.0  # a hang guard for one import, far above the ~2 s an import takes
APP_NAME = "compliance-crash-probe"  # the importer's PostgreSQL sessions carry this name
RETRY_AFTER = 2  # uncommitted imports re-run to completion at the end of each chunk


@dataclass
class Run:
    markers: list[tuple[float, str]] = field(default_factory=list)
    returncode: int | None = None
    exited_before_kill: bool = False
    killed_at: float | None = None
    elapsed: float = 0.0
    stdout: str = ""
    stderr: str = ""

    def times(self, tag: str) -> list[float]:
        return [t for t, m in self.markers if m == tag]

    def phase(self) -> str:
        """Where the process was when it died, from the markers it wrote before."""
        if self.exited_before_kill:
            return "exited"
        tags = {m for _t, m in self.markers}
        if "committed" in tags:
            return "after-commit"
        if "commit" in tags:
            return "during-commit"
        if "blob" in tags:
            return "during-write"
        return "before-write"


def _cli(url: str, store: Path) -> list[str]:
    return [
        sys.executable,
        str(WORKERS / "phase_probe.py"),
        "--db",
        url,
        "--evidence-dir",
        str(store),
    ]


def run_import(
    url: str,
    store: Path,
    folders: list[Path],
    logs: Path,
    kill: Any = None,
) -> Run:
    """Run `compliance import FOLDERS`; `kill(run, now)` says in how many seconds to send
    SIGKILL (0 or less: now; None: not yet known)."""
    read_fd, write_fd = os.pipe()
    out_path, err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
    env = dict(os.environ, COMPLIANCE_PHASE_FD=str(write_fd), PGAPPNAME=APP_NAME)
    run = Run()
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [*_cli(url, store), "import", *map(str, folders)],
            pass_fds=[write_fd],
            env=env,
            stdout=out,
            stderr=err,
        )
    os.close(write_fd)
    pending = b""
    eof = False
    try:
        while True:
            now = time.monotonic() - started
            if now > RUN_TIMEOUT:
                proc.kill()
                raise AssertionError(f"the import did not finish within {RUN_TIMEOUT} s")
            wait = 0.05
            if kill is not None and run.killed_at is None:
                due = kill(run, now)
                if due is not None and due <= 0:
                    if proc.poll() is not None:
                        run.exited_before_kill = True
                    else:
                        proc.send_signal(signal.SIGKILL)
                    run.killed_at = now
                elif due is not None:
                    wait = min(wait, due)
            if eof:
                if proc.poll() is not None:
                    break
                time.sleep(min(wait, 0.005))
                continue
            ready, _, _ = select.select([read_fd], [], [], wait)
            if ready:
                data = os.read(read_fd, 65536)
                if not data:
                    eof = True
                    continue
                stamp = time.monotonic() - started
                pending += data
                *lines, pending = pending.split(b"\n")
                run.markers.extend((stamp, line.decode()) for line in lines if line)
    finally:
        os.close(read_fd)
        run.returncode = proc.wait()
        run.elapsed = time.monotonic() - started
    if kill is not None and (run.killed_at is None or run.returncode == 0):
        run.exited_before_kill = True  # the import had finished before the kill was sent
    run.stdout = out_path.read_text(errors="replace")
    run.stderr = err_path.read_text(errors="replace")
    return run


def wait_for_other_sessions(engine: Engine) -> None:
    """PostgreSQL: the killed importer's session must end (it holds the writer lock until then)."""
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 30
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = :app"
    )
    while True:
        with engine.connect() as conn:
            others = conn.execute(query, {"app": APP_NAME}).scalar_one()
        if others == 0:
            return
        assert time.monotonic() < deadline, "a killed client's session is still open after 30 s"
        time.sleep(0.02)


def _killer(strategy: str, rng: random.Random, full: float, blobs: int, commit_s: float) -> Any:
    if strategy == "uniform":
        at = rng.uniform(0, full)
        return lambda _run, now: at - now
    jitter = rng.uniform(0, 0.002) if strategy == "blob" else rng.uniform(0, 1.5 * commit_s)
    k = rng.randint(1, max(blobs, 1))
    fired: list[float] = []

    def kill(run: Run, now: float) -> float | None:
        if not fired:
            seen = run.times("blob") if strategy == "blob" else []
            commit = run.times("commit")
            if len(seen) >= k:
                fired.append(seen[k - 1])
            elif commit:  # fewer blobs than drawn (or the commit strategy): the commit is next
                fired.append(commit[0])
        return fired[0] + jitter - now if fired else None

    return kill


def assert_consistent(
    engine: Engine, store: Path, run: Cli, prefix: str | None = None
) -> dict[str, int]:
    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.output
    state = check_store(engine, store, prefix)
    assert state.problems == [], state.problems
    assert sqlite_integrity(engine) == "ok"
    return {"unreferenced_blobs": state.unreferenced, "incoming_files": state.incoming}


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_sigkill_at_random_points_leaves_all_or_nothing(
    backend: str, db_url: str, tmp_path: Path, chunk: int
) -> None:
    trials = TRIALS // CHUNKS + (1 if chunk < TRIALS % CHUNKS else 0)
    rng = random.Random(f"{SEED}-{backend}-{chunk}")
    store = tmp_path / "evidence-store"
    logs = tmp_path / "logs"
    logs.mkdir()
    engine = db.make_engine(db_url)
    cli = Cli(db_url, store)
    try:
        # Calibration: one full import gives its duration, its phases and the full numbers.
        calib = write_workload(
            tmp_path / "w-cal", "cal", files=FILES, seed=SEED, evidence_kib=EVIDENCE_KIB
        )
        full_run = run_import(db_url, store, [calib.folder], logs / "cal")
        assert full_run.returncode == 0, full_run.stderr
        full = counts(engine, "cal")
        per_assessment = full["assessment_catalogs"] // FILES
        assert per_assessment >= 1
        assert full == calib.expected(per_assessment), (full, calib)
        duration = full_run.elapsed
        commit_s = max(full_run.times("committed")[-1] - full_run.times("commit")[-1], 0.001)
        blob_marks = len(full_run.times("blob"))
        assert_consistent(engine, store, cli)

        phases: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        by_strategy: Counter[str] = Counter()
        uncommitted: list[Workload] = []
        leftovers: dict[str, int] = {}
        for trial in range(trials):
            strategy = STRATEGIES[trial % len(STRATEGIES)]
            prefix = f"k{chunk}t{trial:03d}"
            work = write_workload(
                tmp_path / f"w-{prefix}", prefix, files=FILES, seed=SEED, evidence_kib=EVIDENCE_KIB
            )
            expected = work.expected(per_assessment)
            killer = _killer(strategy, rng, duration, blob_marks, commit_s)
            result = run_import(db_url, store, [work.folder], logs / prefix, killer)
            wait_for_other_sessions(engine)
            phase = result.phase()
            got = counts(engine, prefix)
            outcome = "all" if got == expected else "none" if not any(got.values()) else "partial"
            context = f"trial {prefix} ({strategy}, killed at {result.killed_at}, phase {phase})"
            assert outcome != "partial", f"{context}: a partial import is visible: {got}"
            if phase in ("before-write", "during-write"):
                assert outcome == "none", f"{context}: rows visible before the commit"
            if phase in ("after-commit", "exited"):
                assert outcome == "all", f"{context}: a committed import is missing"
            if phase == "exited":
                assert result.returncode == 0, result.stderr
            else:
                assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
            assert "Traceback" not in result.stderr
            leftovers = assert_consistent(engine, store, cli, prefix)
            phases[phase] += 1
            outcomes[f"{phase}:{outcome}"] += 1
            by_strategy[strategy] += 1
            if outcome == "none":
                uncommitted.append(work)
                if len(uncommitted) > RETRY_AFTER:
                    shutil.rmtree(uncommitted.pop(0).folder)
            else:
                shutil.rmtree(work.folder)

        # Every import interrupted before its commit can be run again and lands whole.
        retry = uncommitted[-RETRY_AFTER:]
        if retry:
            again = run_import(db_url, store, [w.folder for w in retry], logs / "retry")
            assert again.returncode == 0, again.stderr
            assert not any(e in (again.stdout + again.stderr).lower() for e in LOCK_ERRORS)
            for w in retry:
                assert counts(engine, w.prefix) == w.expected(per_assessment)
            assert again.stdout.count("imported   ") == FILES * len(retry)
        final = assert_consistent(engine, store, cli)
        figures = {
            "backend": backend,
            "chunk": chunk,
            "trials": trials,
            "files_per_import": FILES,
            "rows_per_import": sum(full.values()),
            "evidence_blobs_per_import": len(calib.blobs),
            "full_import_seconds": round(duration, 3),
            "commit_seconds": round(commit_s, 4),
            "strategies": dict(by_strategy),
            "phases": dict(phases),
            "outcomes": dict(outcomes),
            "retried_to_completion": len(retry),
            "after_last_kill": leftovers,
            "at_end": final,
        }
        record_figures(f"crash-{backend}-{chunk}", figures)
        assert sum(phases.values()) == trials
        shutil.rmtree(store)  # a soak run writes gigabytes otherwise
    finally:
        engine.dispose()
