"""Measure the engine against hand-written floors, side by side in one run, and print one table.

    python -m benchmarks.run                       # N = 100, 1,000, 10,000 on SQLite (+ PostgreSQL
                                                   # when COMPLIANCE_TEST_PG_URL or --pg-url is set)
    python -m benchmarks.run --sizes 100,1000 --assessments 4
    python -m benchmarks.run --quick               # tiny sizes: keeps the code paths working

Every figure is a ratio of two timings taken in the same run (best of a few repetitions at the
small sizes, engine and floor interleaved), so a busy machine moves both sides alike. See
benchmarks/README.md for what each row measures and benchmarks/RESULTS.md for a real run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks import floors
from benchmarks.floors import AS_OF
from benchmarks.generate import cached_portfolio

BENCH_AS_OF = date.fromisoformat(AS_OF)  # every benchmark decides as of this date

ROOT = Path(__file__).resolve().parent.parent
CLI = "from compliance.cli.main import main; main()"


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def best(
    reps: int, fn: Callable[[], Any], cleanup: Callable[[Any], None] | None = None
) -> tuple[float, Any]:
    """The best wall time of `reps` calls, and the value of the best one."""
    times: list[tuple[float, Any]] = []
    for _ in range(reps):
        t0 = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - t0, value))
    times.sort(key=lambda tv: tv[0])
    if cleanup:
        for _t, v in times[1:]:
            cleanup(v)
    return times[0]


# Backends ---------------------------------------------------------------------------------------

# Evidence stores of finished runs are moved here and deleted when the whole run is over: on
# ext4 creating a file right after thousands were deleted is slow (the allocator steps over
# recently freed inodes), which would charge the next import for the benchmark's own clean-up.
TRASH: list[Path] = []


def discard(path: Path) -> None:
    """Move `path` out of the way now; `empty_trash` deletes it at the end of the run."""
    if not path.exists():
        return
    if not TRASH:
        shutil.rmtree(path, ignore_errors=True)  # no run in progress (tests, profiles)
        return
    target = TRASH[0] / uuid.uuid4().hex
    path.rename(target)


def empty_trash() -> None:
    if TRASH:
        shutil.rmtree(TRASH[0], ignore_errors=True)
        TRASH.clear()


@dataclass
class Fresh:
    """A fresh database at head with the catalogs loaded, and an evidence store beside it."""

    url: str
    store: Path
    drop: Callable[[], None]


class SQLiteBackend:
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "sqlite"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.template = self.dir / "template.db"
        build_schema(f"sqlite:///{self.template}")
        conn = sqlite3.connect(self.template)  # fold the WAL in so that a copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()

    def fresh(self, label: str) -> Fresh:
        path = self.dir / f"{label}.db"
        store = self.dir / f"{label}.evidence"
        self._remove(path, store)
        shutil.copyfile(self.template, path)
        return Fresh(f"sqlite:///{path}", store, lambda: self._remove(path, store))

    @staticmethod
    def _remove(path: Path, store: Path) -> None:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        discard(store)

    def connect(self, url: str) -> Any:
        return sqlite3.connect(url.removeprefix("sqlite:///"))

    def floor_ingest(self, url: str, root: Path) -> dict[str, int]:
        return floors.ingest_sqlite(Path(url.removeprefix("sqlite:///")), root)

    def close(self) -> None:
        pass


class PostgresBackend:
    name = "postgresql"

    def __init__(self, admin_url: str, workdir: Path) -> None:
        from sqlalchemy import create_engine

        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.dir = workdir / "postgresql"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"bench_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_tmpl"
        self.created: list[str] = []
        self._sql(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        build_schema(self._url(self.template))

    def _sql(self, statement: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def _url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def fresh(self, label: str) -> Fresh:
        name = f"{self.prefix}_{label}".lower().replace("-", "_")
        store = self.dir / f"{label}.evidence"
        discard(store)
        self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)

        def drop() -> None:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            discard(store)

        return Fresh(self._url(name), store, drop)

    def connect(self, url: str) -> Any:
        import psycopg

        return psycopg.connect(floors.plain_pg_url(url))

    def floor_ingest(self, url: str, root: Path) -> dict[str, int]:
        return floors.ingest_postgres(url, root)

    def close(self) -> None:
        for name in reversed(self.created):
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


Backend = SQLiteBackend | PostgresBackend


def build_schema(url: str) -> None:
    from compliance.store import catalog_store, db

    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        with db.transaction(engine) as session:
            catalog_store.sync(session)
    finally:
        engine.dispose()


@contextmanager
def session_for(url: str) -> Iterator[Any]:
    from compliance.store import db

    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


# Measurements -----------------------------------------------------------------------------------


@dataclass
class Measure:
    metric: str
    backend: str
    n: int
    units: float  # what the cost should grow with (assessments for ingest, deployments else)
    value: float | None  # the figure in the table: a ratio, share, speed-up, MiB or pages
    engine_s: float | None = None
    floor_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def engine_ingest(fresh: Fresh, root: Path) -> dict[str, Any]:
    """What `compliance import ROOT` does, timed (`seconds`), then the rows it wrote, counted."""
    from compliance.evidence import EvidenceStore
    from compliance.importer.core import import_paths
    from compliance.store import db

    t0 = time.perf_counter()
    engine = db.make_engine(fresh.url)
    try:
        with db.transaction(engine) as session:
            report = import_paths(session, EvidenceStore(fresh.store), [root])
        seconds = time.perf_counter() - t0
        with engine.connect() as conn:
            counts = floors.table_counts(conn.connection.cursor())
    finally:
        engine.dispose()
    return dict(
        imported=len(report.imported),
        evidence_files=report.evidence_files,
        counts=counts,
        seconds=seconds,
    )


def warm_files(root: Path) -> None:
    """Read every file of the portfolio once, so that neither side pays for cold reads: with a
    single repetition (the largest size) the engine, which runs first, would otherwise read
    from disk what the floor then finds in the page cache."""
    for folder, _dirs, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                while fh.read(1 << 20):
                    pass


def measure_ingest(
    backend: Backend, n: int, root: Path, assessments: int, reps: int
) -> tuple[Measure, Fresh]:
    """Engine import vs parse + executemany/COPY; returns the engine's database for what follows."""
    warm_files(root)
    engine_times: list[float] = []
    floor_times: list[float] = []
    kept: Fresh | None = None
    engine_info: dict[str, Any] = {}
    floor_counts: dict[str, int] = {}
    for rep in range(reps):
        fresh = backend.fresh(f"n{n}-engine-{rep}")
        engine_info = engine_ingest(fresh, root)
        engine_times.append(engine_info["seconds"])
        if kept is None or engine_times[-1] <= min(engine_times[:-1], default=math.inf):
            if kept is not None:
                kept.drop()
            kept = fresh
        else:
            fresh.drop()
        floor_db = backend.fresh(f"n{n}-floor-{rep}")
        t0 = time.perf_counter()
        floor_counts = backend.floor_ingest(floor_db.url, root)
        floor_times.append(time.perf_counter() - t0)
        conn = backend.connect(floor_db.url)
        floor_totals = floors.table_counts(conn.cursor())
        conn.close()
        floor_db.drop()
    assert kept is not None
    same = engine_info["counts"] == floor_totals
    e, f = min(engine_times), min(floor_times)
    return (
        Measure(
            "ingest",
            backend.name,
            n,
            n * assessments,
            e / f,
            e,
            f,
            dict(
                rows=sum(floor_counts.values()),
                engine_tables=engine_info["counts"],
                floor_tables=floor_totals,
                evidence_files=engine_info["evidence_files"],
            ),
            "" if same else "row counts differ between engine and floor",
        ),
        kept,
    )


def measure_rollup(backend: Backend, n: int, url: str, reps: int) -> Measure:
    from compliance.store.rollup import portfolio_matrix

    def engine() -> tuple[float, dict[tuple[int, int], tuple[str, str]]]:
        with session_for(url) as session:
            t0 = time.perf_counter()
            matrix = portfolio_matrix(session, BENCH_AS_OF)
            elapsed = time.perf_counter() - t0
        return elapsed, {(r[0], r[1]): (r[2], r[3]) for r in matrix.rows}

    def floor() -> tuple[float, dict[tuple[int, int], tuple[str, str]]]:
        conn = backend.connect(url)  # connecting is outside the timing, as for the engine
        try:
            t0 = time.perf_counter()
            rows = floors.rollup(conn)
            elapsed = time.perf_counter() - t0
        finally:
            conn.close()
        return elapsed, {(r[0], r[2]): (r[4], r[5]) for r in rows}

    e_times, f_times = [], []
    e_val: dict[tuple[int, int], tuple[str, str]] = {}
    f_val: dict[tuple[int, int], tuple[str, str]] = {}
    for _ in range(reps):
        e_t, e_val = engine()
        e_times.append(e_t)
        f_t, f_val = floor()
        f_times.append(f_t)
    e, f = min(e_times), min(f_times)
    return Measure(
        "rollup",
        backend.name,
        n,
        n,
        e / f,
        e,
        f,
        dict(cells=len(f_val)),
        "" if e_val == f_val else "engine and floor matrices differ",
    )


def measure_pdf(backend: Backend, n: int, url: str, out: Path, reps: int) -> tuple[Measure, Any]:
    """Model + HTML vs WeasyPrint's layout and write; returns the summary model for Excel."""
    from weasyprint import HTML

    from compliance.reports import model, render
    from compliance.store import catalog_store

    runs = []
    report: Any = None
    for _ in range(reps):
        with session_for(url) as session:
            t0 = time.perf_counter()
            report = model.summary_report(
                session, BENCH_AS_OF, catalog_store.current_policy(session)
            )
            t1 = time.perf_counter()
        html = render.render_html(report)
        t2 = time.perf_counter()
        document = HTML(string=html, base_url=None, url_fetcher=render._fetcher()).render()
        t3 = time.perf_counter()
        document.write_pdf(str(out))
        t4 = time.perf_counter()
        runs.append((t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3, len(document.pages)))
    total, model_s, html_s, layout_s, write_s, pages = min(runs)
    ours = model_s + html_s
    return (
        Measure(
            "pdf",
            backend.name,
            n,
            n,
            ours / total,
            total,
            layout_s + write_s,
            dict(model_s=model_s, html_s=html_s, layout_s=layout_s, write_s=write_s, pages=pages),
        ),
        report,
    )


def measure_excel(backend: Backend, n: int, report: Any, workdir: Path, reps: int) -> Measure:
    from compliance.reports.xlsx import write_workbook

    engine_path = workdir / f"summary-{backend.name}-{n}.xlsx"
    floor_path = workdir / f"summary-{backend.name}-{n}-floor.xlsx"
    e_times, f_times = [], []
    sheets: list[Any] = []
    for rep in range(reps):
        t0 = time.perf_counter()
        write_workbook(report, engine_path)
        e_times.append(time.perf_counter() - t0)
        if rep == 0:
            sheets = floors.read_cells(engine_path)  # the same cells, read back
        t0 = time.perf_counter()
        floors.write_cells(sheets, floor_path)
        f_times.append(time.perf_counter() - t0)
    model_file = workdir / f"summary-{backend.name}-{n}.pickle"
    model_file.write_bytes(pickle.dumps(report))
    probe = subprocess.run(
        [sys.executable, "-m", "benchmarks.memprobe", str(model_file), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    mem = json.loads(probe.stdout)
    model_file.unlink()
    e, f = min(e_times), min(f_times)
    cells = sum(len(r) * max((len(x) for x in r), default=0) for _t, r in sheets)
    return Measure(
        "excel",
        backend.name,
        n,
        n,
        e / f,
        e,
        f,
        dict(sheets=len(sheets), rows=sum(len(r) for _t, r in sheets), cells=cells, **mem),
    )


def run_cli(url: str, store: Path, *args: str) -> tuple[float, float]:
    """Run the CLI in a process of its own: (wall seconds, CPU seconds of it and its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "--db", url, "--evidence-dir", str(store), *args],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"compliance {' '.join(args[:3])}... failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _usage(
    times: dict[int, float], cpu: dict[int, float], load: dict[int, float], jobs: int
) -> dict[str, float]:
    """CPU seconds and cores kept busy by each run, and the machine's load after it: on a shared
    machine a speed-up short of the goal with cores_busy well under `jobs` means contention."""
    return dict(
        cpu_1=cpu[1],
        cpu_n=cpu[jobs],
        cores_busy_1=cpu[1] / times[1],
        cores_busy_n=cpu[jobs] / times[jobs],
        load_1=load[1],
        load_n=load[jobs],
    )


def sample_keys(backend: Backend, url: str, k: int) -> list[str]:
    conn = backend.connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT key FROM deployments ORDER BY key")
        keys = [r[0] for r in cur.fetchall()]
    finally:
        conn.close()
    step = max(1, len(keys) // max(k, 1))
    return keys[::step][:k]


def measure_parallel(
    backend: Backend,
    n: int,
    fresh: Fresh,
    workdir: Path,
    gap_sample: int,
    pack_sample: int,
    pack_frameworks: Sequence[str],
    jobs: int,
) -> list[Measure]:
    out = []
    keys = sample_keys(backend, fresh.url, gap_sample)
    times, cpu, load = {}, {}, {}
    for j in (1, jobs):
        target = workdir / f"gap-{backend.name}-{n}-j{j}"
        shutil.rmtree(target, ignore_errors=True)
        times[j], cpu[j] = run_cli(
            fresh.url,
            fresh.store,
            "report",
            "gap",
            *keys,
            "--as-of",
            AS_OF,
            "--jobs",
            str(j),
            "-o",
            str(target),
        )
        load[j] = os.getloadavg()[0]
        shutil.rmtree(target, ignore_errors=True)
    out.append(
        Measure(
            "parallel_gap",
            backend.name,
            n,
            len(keys),
            times[1] / times[jobs],
            times[1],
            times[jobs],
            dict(reports=len(keys), jobs=jobs, **_usage(times, cpu, load, jobs)),
        )
    )
    keys = sample_keys(backend, fresh.url, pack_sample)
    args = [a for k in keys for a in ("--deployment", k)]
    args += [a for f in pack_frameworks for a in ("--framework", f)]
    for j in (1, jobs):
        target = workdir / f"pack-{backend.name}-{n}-j{j}.zip"
        times[j], cpu[j] = run_cli(
            fresh.url,
            fresh.store,
            "pack",
            "--include-drafts",
            *args,
            "--as-of",
            AS_OF,
            "--jobs",
            str(j),
            "-o",
            str(target),
        )
        load[j] = os.getloadavg()[0]
        target.unlink(missing_ok=True)
    out.append(
        Measure(
            "parallel_pack",
            backend.name,
            n,
            len(keys),
            times[1] / times[jobs],
            times[1],
            times[jobs],
            dict(
                deployments=len(keys),
                jobs=jobs,
                frameworks=list(pack_frameworks) or "all",
                **_usage(times, cpu, load, jobs),
            ),
        )
    )
    return out


def measure_yaml_ingest(backend: Backend, n: int, root: Path, docs: int, reps: int) -> Measure:
    """Engine import of the YAML portfolio vs libyaml parsing the same files, nothing else."""
    warm_files(root)
    e_times, f_times = [], []
    info: dict[str, Any] = {}
    parsed = 0
    for rep in range(reps):
        fresh = backend.fresh(f"yaml{n}-{rep}")
        try:
            info = engine_ingest(fresh, root)
            e_times.append(info["seconds"])
        finally:
            fresh.drop()
        t0 = time.perf_counter()
        parsed = floors.parse_yaml(root)
        f_times.append(time.perf_counter() - t0)
    e, f = min(e_times), min(f_times)
    note = "" if info["imported"] == parsed == docs else f"imported {info['imported']} of {docs}"
    return Measure(
        "yaml_ingest",
        backend.name,
        n,
        docs,
        e / f,
        e,
        f,
        dict(documents=docs, evidence_files=info["evidence_files"], tables=info["counts"]),
        note,
    )


def _process_seconds(args: Sequence[str], ok: Sequence[int] = (0,)) -> float:
    """Wall time of `python ARGS` in a process of its own, from start to exit."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise RuntimeError(f"python {' '.join(args)[:200]} failed:\n{proc.stderr[-2000:]}")
    return elapsed


def measure_startup(backend: Backend, n: int, fresh: Fresh, reps: int) -> list[Measure]:
    """`compliance --version`, `--help` and `gate KEY --json` (on this N's database), each a new
    process, vs a process importing click (or SQLAlchemy and click); best of `reps`,
    interleaved."""
    key = sample_keys(backend, fresh.url, 1)[0]
    cli = ["-c", CLI, "--db", fresh.url, "--evidence-dir", str(fresh.store)]
    cases: dict[str, tuple[list[str], tuple[int, ...], str]] = {
        "startup_version": ([*cli, "--version"], (0,), "click"),
        "startup_help": ([*cli, "--help"], (0,), "click"),
        "startup_gate": ([*cli, "gate", key, "--json"], (0, 3, 4), "sqlalchemy"),
    }
    times: dict[str, list[float]] = {name: [] for name in [*cases, *floors.STARTUP_FLOORS]}
    for _ in range(reps):
        for name, code in floors.STARTUP_FLOORS.items():
            times[name].append(_process_seconds(["-c", code]))
        for metric, (args, ok, _floor) in cases.items():
            times[metric].append(_process_seconds(args, ok))
    out = []
    for metric, (_args, _ok, floor) in cases.items():
        e, f = min(times[metric]), min(times[floor])
        detail = dict(floor=f"python -c '{floors.STARTUP_FLOORS[floor]}'", reps=reps, key=key)
        out.append(Measure(metric, backend.name, n, n, e / f, e, f, detail))
    return out


def _command_seconds(fresh: Fresh, args: Sequence[str]) -> float:
    """Wall time of one CLI command run in this process (imports already paid)."""
    from click.testing import CliRunner

    from compliance.cli.main import cli

    t0 = time.perf_counter()
    result = CliRunner().invoke(cli, ["--db", fresh.url, "--evidence-dir", str(fresh.store), *args])
    elapsed = time.perf_counter() - t0
    if result.exit_code not in (0, 3, 4):
        raise RuntimeError(f"compliance {' '.join(args)} failed:\n{result.output[-2000:]}")
    return elapsed


def measure_scaling(
    backend: Backend, n: int, fresh: Fresh, base_n: int, base: Fresh, sample: int, reps: int
) -> list[Measure]:
    """`gate` and `gaps` of `sample` deployments in this N's database vs as many in the smallest
    portfolio's, best of `reps` per deployment, the two databases interleaved."""
    keys = sample_keys(backend, fresh.url, sample)
    base_keys = sample_keys(backend, base.url, sample)[: len(keys)]
    keys = keys[: len(base_keys)]
    out = []
    for metric, command in (("gate_scaling", "gate"), ("gaps_scaling", "gaps")):
        here = [math.inf] * len(keys)
        there = [math.inf] * len(keys)
        for _ in range(reps):
            for i, (key, base_key) in enumerate(zip(keys, base_keys, strict=True)):
                there[i] = min(there[i], _command_seconds(base, [command, base_key, "--json"]))
                here[i] = min(here[i], _command_seconds(fresh, [command, key, "--json"]))
        e, f = sum(here), sum(there)
        detail = dict(base_n=base_n, deployments=len(keys), reps=reps)
        out.append(Measure(metric, backend.name, n, n, e / f, e, f, detail))
    return out


def warm_up(backend: Backend, workdir: Path, seed: int) -> None:
    """Run every in-process path once on a tiny portfolio, untimed: imports, template
    compilation and first-use caches are then paid before anything is measured."""
    log(f"{backend.name}: warming up")
    root, _stats = cached_portfolio(workdir / "portfolios", 3, 2, seed)
    _m, fresh = measure_ingest(backend, 3, root, 2, 1)
    try:
        measure_scaling(backend, 3, fresh, 3, fresh, 1, 1)
        measure_rollup(backend, 3, fresh.url, 1)
        _m, report = measure_pdf(backend, 3, fresh.url, workdir / "warm-up.pdf", 1)
        from compliance.reports.xlsx import write_workbook

        write_workbook(report, workdir / "warm-up.xlsx")
        floors.write_cells(floors.read_cells(workdir / "warm-up.xlsx"), workdir / "warm-up-2.xlsx")
    finally:
        fresh.drop()
    for name in ("warm-up.pdf", "warm-up.xlsx", "warm-up-2.xlsx"):
        (workdir / name).unlink(missing_ok=True)


# The table --------------------------------------------------------------------------------------


def _s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares exponent b of y = a * x^b on a log-log scale."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y and y > 0]
    if len(pts) < 2 or len({x for x, _y in pts}) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den


@dataclass(frozen=True)
class Row:
    key: str  # metric[:field]
    label: str
    goal: str
    cell: Callable[[Measure], str]
    ok: Callable[[Measure], bool | None]
    growth: Callable[[list[Measure]], str]


def _growth_time(ms: list[Measure], what: str = "engine") -> str:
    b = slope([(m.units, m.engine_s or 0) for m in ms])
    fb = slope([(m.units, m.floor_s or 0) for m in ms])
    if b is None:
        return "–"
    return f"N^{b:.2f} (floor N^{fb:.2f})" if fb is not None else f"N^{b:.2f}"


def _mem_growth(ms: list[Measure]) -> str:
    b = slope([(m.units, m.value or 0) for m in ms])
    return "–" if b is None else f"N^{b:.2f}"


def _pages_growth(ms: list[Measure]) -> str:
    pages = {m.detail["pages"] for m in ms}
    return "same at every N" if len(pages) == 1 else "CHANGES with N"


def contended(m: Measure) -> bool:
    """The --jobs run kept fewer than 1.5 cores busy while the load average was at least the
    number of jobs: another process held a core, so the speed-up says nothing about the engine."""
    d = m.detail
    return bool(d.get("cores_busy_n", 2) < 1.5 and d.get("load_n", 0) >= d.get("jobs", 2))


def _par_cell(m: Measure, what: str) -> str:
    d = m.detail
    text = (
        f"{m.value:.2f}× ({_s(m.engine_s)} → {_s(m.floor_s)}, {what}; "
        f"{d['cores_busy_n']:.1f} cores busy, load {d['load_n']:.1f})"
    )
    return text + (" contended, not counted" if contended(m) else "")


def _par_ok(m: Measure) -> bool | None:
    return None if contended(m) else m.value is not None and m.value >= 1.7


def _par_growth(ms: list[Measure]) -> str:
    b = slope([(m.n, m.engine_s or 0) for m in ms])
    return "–" if b is None else f"fixed sample; N^{b:.2f} in DB size"


def _ratio(m: Measure) -> str:
    return f"{m.value:.2f}× ({_s(m.engine_s)} / {_s(m.floor_s)})"


def _at_most(limit: float) -> Callable[[Measure], bool]:
    return lambda m: m.value is not None and m.value <= limit


def _scaling_cell(m: Measure) -> str:
    d = m.detail
    each = (m.engine_s or 0) / d["deployments"], (m.floor_s or 0) / d["deployments"]
    return f"{m.value:.2f}× ({_s(each[0])} / {_s(each[1])} at N={d['base_n']:,})"


def _no_growth(ms: list[Measure]) -> str:
    return "–"


ROWS = (
    Row(
        "ingest",
        "ingest: import / (parse + executemany)",
        "≤ 2×",
        _ratio,
        _at_most(2.0),
        _growth_time,
    ),
    Row(
        "yaml_ingest",
        "YAML ingest, N documents: import / libyaml parse",
        "≤ 2× from 1,000 documents",
        _ratio,
        # The goal is stated for 1,000 and more: below, the import's fixed costs (loading the
        # catalogs' ids, one sync to disk, the audit event) are a visible share.
        lambda m: m.value is not None and m.value <= 2.0 if m.units >= 1000 else None,
        _growth_time,
    ),
    Row(
        "startup_version",
        "start-up: `--version` / `import click`",
        "≤ 1.5×",
        _ratio,
        _at_most(1.5),
        _no_growth,
    ),
    Row(
        "startup_help",
        "start-up: `--help` / `import click`",
        "≤ 1.5×",
        _ratio,
        _at_most(1.5),
        _no_growth,
    ),
    Row(
        "startup_gate",
        "start-up: `gate X --json` / `import sqlalchemy, click`",
        "≤ 1.5×",
        _ratio,
        _at_most(1.5),
        _no_growth,
    ),
    Row(
        "gate_scaling",
        "gate, one deployment: at N / at the smallest N (per deployment)",
        "≤ 1.2×",
        _scaling_cell,
        _at_most(1.2),
        _no_growth,
    ),
    Row(
        "gaps_scaling",
        "gaps, one deployment: at N / at the smallest N (per deployment)",
        "≤ 1.2×",
        _scaling_cell,
        _at_most(1.2),
        _no_growth,
    ),
    Row(
        "rollup",
        "roll-up: gap matrix / one SQL aggregate",
        "≤ 1.5×",
        lambda m: f"{m.value:.2f}× ({_s(m.engine_s)} / {_s(m.floor_s)})",
        lambda m: m.value is not None and m.value <= 1.5,
        _growth_time,
    ),
    Row(
        "rollup:time",
        "roll-up: engine time",
        "< 1 s at 1,000 (SQLite)",
        lambda m: _s(m.engine_s),
        lambda m: (m.engine_s or 0) < 1.0 if m.n == 1000 and m.backend == "sqlite" else None,
        lambda ms: "",
    ),
    Row(
        "excel",
        "Excel: portfolio workbook / bare write-only loop",
        "≤ 1.3×",
        lambda m: f"{m.value:.2f}× ({_s(m.engine_s)} / {_s(m.floor_s)})",
        lambda m: m.value is not None and m.value <= 1.3,
        _growth_time,
    ),
    Row(
        "excel:mem",
        "Excel: peak memory while writing (floor)",
        "flat in N",
        lambda m: f"{m.detail['engine_peak_mib']:.1f} MiB ({m.detail['floor_peak_mib']:.1f})",
        lambda m: None,
        lambda ms: _mem_growth(
            [Measure(m.metric, m.backend, m.n, m.units, m.detail["engine_peak_mib"]) for m in ms]
        ),
    ),
    Row(
        "pdf",
        "PDF: share outside WeasyPrint (summary)",
        "≤ 10%",
        lambda m: f"{m.value:.0%} ({_s(m.engine_s)}; model {_s(m.detail['model_s'])})",
        lambda m: m.value is not None and m.value <= 0.10,
        _growth_time,
    ),
    Row(
        "pdf:pages",
        "PDF: summary pages",
        "same at every N",
        lambda m: str(m.detail["pages"]),
        lambda m: None,
        _pages_growth,
    ),
    Row(
        "parallel_gap",
        "parallel: gap reports, --jobs 1 / --jobs 2",
        "≥ 1.7×",
        lambda m: _par_cell(m, f"{m.detail['reports']} PDFs"),
        _par_ok,
        _par_growth,
    ),
    Row(
        "parallel_pack",
        "parallel: audit pack, --jobs 1 / --jobs 2",
        "≥ 1.7×",
        lambda m: _par_cell(m, f"{m.detail['deployments']} deployments"),
        _par_ok,
        _par_growth,
    ),
)


def render_table(measures: list[Measure], sizes: Sequence[int], backends: Sequence[str]) -> str:
    lines = []
    for backend in backends:
        header = ["figure", *(f"N={n:,}" for n in sizes), "growth with N", "goal", "met"]
        lines.append(f"\n**{backend}**\n")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row in ROWS:
            metric = row.key.split(":")[0]
            by_n = {m.n: m for m in measures if m.metric == metric and m.backend == backend}
            if not by_n:
                continue
            cells, verdicts = [], []
            for n in sizes:
                m = by_n.get(n)
                if m is None or m.value is None:
                    cells.append("not run")
                    continue
                text = row.cell(m)
                if m.note:
                    text += f" **{m.note}**"
                cells.append(text)
                verdicts.append(row.ok(m))
            ms = [by_n[n] for n in sizes if n in by_n and by_n[n].value is not None]
            growth = row.growth(ms) if ms else "–"
            known = [v for v in verdicts if v is not None]
            if row.key == "pdf:pages":
                known = [growth == "same at every N"]
            elif row.key == "excel:mem":
                b = slope([(m.units, m.detail["engine_peak_mib"]) for m in ms])
                known = [b is not None and b < 0.2] if b is not None else []
            met = "–" if not known else ("yes" if all(known) else "NO")
            if row.key.startswith("parallel") and len(known) < len(verdicts):
                met += f" ({len(known)} of {len(verdicts)} measurable)"
            lines.append("| " + " | ".join([row.label, *cells, growth, row.goal, met]) + " |")
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import openpyxl
    import sqlalchemy
    import weasyprint

    import compliance

    engine_dir = Path(compliance.__file__).resolve().parent.parent
    commit = os.environ.get("BENCH_ENGINE_LABEL", f"from {engine_dir}")
    if "BENCH_ENGINE_LABEL" not in os.environ:
        with suppress(OSError, subprocess.CalledProcessError):
            commit = subprocess.run(
                ["git", "-C", str(engine_dir), "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
    return dict(
        cpus=os.cpu_count(),
        cpu=cpu,
        memory=mem,
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        sqlalchemy=sqlalchemy.__version__,
        weasyprint=weasyprint.__version__,
        openpyxl=openpyxl.__version__,
        commit=commit,
        load=os.getloadavg()[0],
    )


def pg_version(url: str) -> str:
    import psycopg

    with psycopg.connect(floors.plain_pg_url(url)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"


# Main -------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=None, help="deployments, comma-separated [100,1000,10000]")
    p.add_argument(
        "--assessments",
        default=None,
        help="assessments per deployment, one value or one per size [4]",
    )
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--backends", default=None, help="sqlite,postgresql [both when a server is set]")
    p.add_argument("--pg-url", default=os.environ.get("COMPLIANCE_TEST_PG_URL"))
    p.add_argument("--workdir", type=Path, default=ROOT / "out" / "bench")
    p.add_argument("--reps", type=int, default=3, help="repetitions at the small sizes [3]")
    p.add_argument("--small", type=int, default=1000, help="sizes up to this are repeated")
    p.add_argument("--gap-sample", type=int, default=12, help="gap reports rendered in parallel")
    p.add_argument("--pack-sample", type=int, default=6, help="deployments in the parallel pack")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument(
        "--parallel-sizes",
        default=None,
        help="sizes at which to measure --jobs (default: every size)",
    )
    p.add_argument(
        "--only",
        default=None,
        help="metrics to run: ingest,yaml,startup,scaling,rollup,pdf,excel,parallel",
    )
    p.add_argument("--startup-reps", type=int, default=7, help="start-up repetitions [7]")
    p.add_argument("--scaling-sample", type=int, default=6, help="deployments gated [6]")
    p.add_argument("--scaling-reps", type=int, default=5, help="repetitions of each [5]")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    p.add_argument("-o", "--output", type=Path, default=None, help="markdown file to write")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        help="print the table of a results .json written by an earlier run, and stop",
    )
    return p.parse_args(argv)


def render_saved(path: Path) -> str:
    saved = json.loads(path.read_text(encoding="utf-8"))
    measures = [Measure(**m) for m in saved["measures"]]
    sizes = sorted(
        {m.n for m in measures if not m.metric.startswith("parallel")} or {m.n for m in measures}
    )
    backends = list(dict.fromkeys(m.backend for m in measures))
    return render_table(measures, sizes, backends)


def main(argv: Sequence[str] | None = None) -> list[Measure]:
    args = parse_args(argv)
    if args.render:
        print(render_saved(args.render))
        return []
    if args.quick:
        sizes = [int(x) for x in (args.sizes or "4,8").split(",")]
        ks = [int(x) for x in (args.assessments or "2").split(",")]
        args.reps, args.gap_sample, args.pack_sample = 1, 2, 1
        args.startup_reps, args.scaling_sample, args.scaling_reps = 1, 2, 1
        pack_frameworks: list[str] = ["owasp-asi-2026"]
        parallel_sizes = [sizes[-1]]
    else:
        sizes = [int(x) for x in (args.sizes or "100,1000,10000").split(",")]
        ks = [int(x) for x in (args.assessments or "4").split(",")]
        pack_frameworks = []
        parallel_sizes = sizes
    if args.parallel_sizes:
        parallel_sizes = [int(x) for x in args.parallel_sizes.split(",")]
    if len(ks) == 1:
        ks = ks * len(sizes)
    if len(ks) < len(sizes):
        ks += [ks[-1]] * (len(sizes) - len(ks))
    backends = (args.backends or ("sqlite,postgresql" if args.pg_url else "sqlite")).split(",")
    only = set((args.only or "ingest,yaml,startup,scaling,rollup,pdf,excel,parallel").split(","))
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    trash = workdir / "trash"
    shutil.rmtree(trash, ignore_errors=True)  # a previous run's, interrupted
    trash.mkdir()
    TRASH.append(trash)
    info = machine()
    if "postgresql" in backends:
        if not args.pg_url:
            raise SystemExit("--backends postgresql needs --pg-url or COMPLIANCE_TEST_PG_URL")
        info["postgresql"] = pg_version(args.pg_url)
    started = time.perf_counter()
    log(f"sizes {sizes}, assessments per deployment {ks}, backends {backends}")
    portfolios = {}
    yaml_portfolios = {}
    for n, k in zip(sizes, ks, strict=True):
        t0 = time.perf_counter()
        portfolios[n] = cached_portfolio(workdir / "portfolios", n, k, args.seed)
        log(
            f"portfolio N={n} K={k}: {portfolios[n][1].__dict__} ({time.perf_counter() - t0:.1f} s)"
        )
        if "yaml" in only:  # N documents: N / K deployments
            yaml_portfolios[n] = cached_portfolio(
                workdir / "portfolios", max(1, n // k), k, args.seed, fmt="yaml"
            )
    measures: list[Measure] = []
    for name in backends:
        backend: Backend = (
            SQLiteBackend(workdir) if name == "sqlite" else PostgresBackend(args.pg_url, workdir)
        )
        base: tuple[int, Fresh] | None = None  # the smallest portfolio's database, for scaling
        try:
            warm_up(backend, workdir, args.seed)
            for n, k in zip(sizes, ks, strict=True):
                reps = args.reps if n <= args.small else 1
                root, _stats = portfolios[n]
                if "yaml" in only:
                    yroot, ystats = yaml_portfolios[n]
                    log(f"{name} N={n}: YAML ingest of {ystats.assessments} documents")
                    m = measure_yaml_ingest(backend, n, yroot, ystats.assessments, reps)
                    measures.append(m)
                    log(f"  yaml {m.value:.2f}x  engine {_s(m.engine_s)}  floor {_s(m.floor_s)}")
                log(f"{name} N={n}: ingest ({reps} repetition(s))")
                m, fresh = measure_ingest(backend, n, root, k, reps if "ingest" in only else 1)
                if "ingest" in only:
                    measures.append(m)
                    log(f"  ingest {m.value:.2f}x  engine {_s(m.engine_s)}  floor {_s(m.floor_s)}")
                try:
                    if "startup" in only:
                        for m in measure_startup(backend, n, fresh, args.startup_reps):
                            measures.append(m)
                            log(f"  {m.metric} {m.value:.2f}x  {_s(m.engine_s)} / {_s(m.floor_s)}")
                    if "scaling" in only:
                        base_n, base_db = base or (n, fresh)
                        for m in measure_scaling(
                            backend,
                            n,
                            fresh,
                            base_n,
                            base_db,
                            args.scaling_sample,
                            args.scaling_reps,
                        ):
                            measures.append(m)
                            log(f"  {m.metric} {m.value:.2f}x  {_s(m.engine_s)} / {_s(m.floor_s)}")
                    if "rollup" in only:
                        m = measure_rollup(backend, n, fresh.url, reps)
                        measures.append(m)
                        log(
                            f"  roll-up {m.value:.2f}x  engine {_s(m.engine_s)}  floor {_s(m.floor_s)}"
                        )
                    if "pdf" in only or "excel" in only:
                        m, report = measure_pdf(
                            backend, n, fresh.url, workdir / f"summary-{name}-{n}.pdf", reps
                        )
                        if "pdf" in only:
                            measures.append(m)
                            log(f"  pdf share {m.value:.0%}  total {_s(m.engine_s)} {m.detail}")
                        if "excel" in only:
                            m = measure_excel(backend, n, report, workdir, reps)
                            measures.append(m)
                            log(
                                f"  excel {m.value:.2f}x  engine {_s(m.engine_s)}  floor {_s(m.floor_s)}"
                            )
                    # Quick runs render in parallel on the first backend only: same code path.
                    quick_skip = args.quick and name != backends[0]
                    if "parallel" in only and n in parallel_sizes and not quick_skip:
                        for m in measure_parallel(
                            backend,
                            n,
                            fresh,
                            workdir,
                            args.gap_sample,
                            args.pack_sample,
                            pack_frameworks,
                            args.jobs,
                        ):
                            measures.append(m)
                            log(f"  {m.metric} {m.value:.2f}x  {_s(m.engine_s)} -> {_s(m.floor_s)}")
                finally:
                    if base is None and "scaling" in only:
                        base = (n, fresh)  # kept until the larger portfolios are measured
                    else:
                        fresh.drop()
        finally:
            if base is not None:
                base[1].drop()
            backend.close()
    elapsed = time.perf_counter() - started
    empty_trash()
    table = render_table(measures, sizes, backends)
    head = [
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, {elapsed / 60:.1f} min; "
        f"engine {info['commit']}",
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory']}, Python {info['python']}, "
        f"SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        + f", SQLAlchemy {info['sqlalchemy']}, WeasyPrint {info['weasyprint']}, "
        f"openpyxl {info['openpyxl']}; load average at start {info['load']:.2f}",
        "Portfolios: "
        + "; ".join(
            f"N={n:,}: {s.assessments:,} assessments (K={k}), {s.results:,} results, "
            f"{s.file_evidence:,} evidence files, {s.acceptances:,} acceptances"
            for (n, (_r, s)), k in zip(portfolios.items(), ks, strict=True)
        ),
    ]
    text = "\n\n".join(head) + "\n" + table
    print(text)
    out = args.output or workdir / "results.md"
    out.write_text(text, encoding="utf-8")
    (out.with_suffix(".json")).write_text(
        json.dumps(dict(machine=info, measures=[asdict(m) for m in measures]), indent=1),
        encoding="utf-8",
    )
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return measures


if __name__ == "__main__":
    main()
