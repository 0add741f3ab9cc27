"""Profile one engine path with pyinstrument on a synthetic portfolio (pip install '.[bench]').

    python -m benchmarks.profile ingest --deployments 1000
    python -m benchmarks.profile ingest --deployments 250 --format yaml   # 1,000 YAML documents
    python -m benchmarks.profile rollup summary-model excel pdf gap pack --deployments 1000

Each path writes a text and an HTML call tree to out/bench/profiles/PATH-nN.{txt,html}. The
database of the portfolio (SQLite) is imported once by the engine and kept for the other paths.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.floors import AS_OF
from benchmarks.generate import cached_portfolio
from benchmarks.run import ROOT, PostgresBackend, SQLiteBackend, log, session_for

BENCH_AS_OF = date.fromisoformat(AS_OF)  # every benchmark decides as of this date

PATHS = ("ingest", "rollup", "summary-model", "excel", "pdf", "gap", "pack")


def _profile(name: str, out: Path, fn: Callable[[], Any], interval: float) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    out.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    (out / f"{name}.txt").write_text(text, encoding="utf-8")
    (out / f"{name}.html").write_text(profiler.output_html(), encoding="utf-8")
    log(f"{name}: {profiler.last_session.duration:.2f} s -> {out / (name + '.txt')}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", choices=PATHS)
    p.add_argument("--deployments", "-n", type=int, default=1000)
    p.add_argument("--assessments", "-k", type=int, default=4)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--format", choices=("json", "yaml"), default="json", help="of the portfolio")
    p.add_argument("--workdir", type=Path, default=ROOT / "out" / "bench")
    p.add_argument("--interval", type=float, default=0.001)
    p.add_argument("--sample", type=int, default=6, help="deployments in the gap/pack profiles")
    p.add_argument(
        "--pg-url",
        help="profile on a fresh PostgreSQL database of this server (admin URL) instead of SQLite",
    )
    args = p.parse_args(argv)
    n, k = args.deployments, args.assessments
    root, _stats = cached_portfolio(args.workdir / "portfolios", n, k, args.seed, args.format)
    profiles = args.workdir / "profiles"
    backend: SQLiteBackend | PostgresBackend
    if args.pg_url:
        backend = PostgresBackend(args.pg_url, args.workdir / "profile")
        label = f"pg-n{n}-k{k}"
    else:
        backend = SQLiteBackend(args.workdir / "profile")
        label = f"n{n}-k{k}"
    if args.format != "json":
        label += f"-{args.format}"
    try:
        _run(args, backend, label, root, profiles)
    finally:
        if isinstance(backend, PostgresBackend):
            (backend.dir / f"{label}.ready").unlink(missing_ok=True)
        backend.close()


def _run(
    args: argparse.Namespace,
    backend: SQLiteBackend | PostgresBackend,
    label: str,
    root: Path,
    profiles: Path,
) -> None:
    n, k = args.deployments, args.assessments
    fresh = None
    if isinstance(backend, PostgresBackend):
        fresh = backend.fresh(label)
        url, store = fresh.url, fresh.store
        (backend.dir / f"{label}.ready").unlink(missing_ok=True)
    else:
        store = backend.dir / f"{label}.evidence"
        url = f"sqlite:///{backend.dir / f'{label}.db'}"

    from compliance.evidence import EvidenceStore
    from compliance.importer.core import import_paths
    from compliance.store import db

    def ingest() -> None:
        engine = db.make_engine(url)
        try:
            with db.transaction(engine) as session:
                import_paths(session, EvidenceStore(store), [root])
        finally:
            engine.dispose()

    ready = backend.dir / f"{label}.ready"
    if "ingest" in args.paths or not ready.exists():
        if fresh is None:
            fresh = backend.fresh(label)
        assert fresh.url == url
        if "ingest" in args.paths:
            _profile(f"ingest-{label}", profiles, ingest, args.interval)
        else:
            log(f"importing N={n} K={k} (not profiled)")
            ingest()
        ready.touch()

    from compliance.reports import model, render
    from compliance.reports.batch import RenderJob, render_all
    from compliance.reports.xlsx import write_workbook
    from compliance.store import catalog_store
    from compliance.store.rollup import portfolio_matrix

    tmp = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        with session_for(url) as session:
            policy = catalog_store.current_policy(session)
            if "rollup" in args.paths:

                def rollup() -> None:
                    portfolio_matrix(session, BENCH_AS_OF)

                _profile(f"rollup-{label}", profiles, rollup, args.interval)
            report: dict[str, Any] = {}

            def summary() -> None:
                report.update(model.summary_report(session, BENCH_AS_OF, policy))

            if "summary-model" in args.paths:
                _profile(f"summary-model-{label}", profiles, summary, args.interval)
            elif {"excel", "pdf"} & set(args.paths):
                summary()
            keys = sorted(d.key for d, _a, _p in model.latest_assessments(session, BENCH_AS_OF))
            step = max(1, len(keys) // args.sample)
            sample = keys[::step][: args.sample]
            if "gap" in args.paths:

                def gap() -> None:
                    reports = [
                        model.gap_report(session, key, None, BENCH_AS_OF, policy) for key in sample
                    ]
                    render_all([RenderJob(r, "pdf") for r in reports], 1)

                _profile(f"gap-{label}-x{len(sample)}", profiles, gap, args.interval)
            if "pack" in args.paths:
                from compliance.pack import PackScope, build_pack

                def pack() -> None:
                    build_pack(
                        session,
                        EvidenceStore(store),
                        policy,
                        PackScope(BENCH_AS_OF, tuple(sample), include_drafts=True),
                        tmp / "pack.zip",
                        workers=1,
                    )

                _profile(f"pack-{label}-x{len(sample)}", profiles, pack, args.interval)
        if "excel" in args.paths:
            _profile(
                f"excel-{label}",
                profiles,
                lambda: write_workbook(report, tmp / "summary.xlsx"),
                args.interval,
            )
        if "pdf" in args.paths:
            _profile(
                f"pdf-render-{label}",
                profiles,
                lambda: render.render_pdf(report, tmp / "summary.pdf"),
                args.interval,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
