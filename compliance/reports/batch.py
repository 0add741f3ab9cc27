"""Rendering many reports at once, in worker processes.

View models are built in the calling process (they need the database); rendering, which is
CPU-bound layout work, runs in a pool of `jobs` processes. The results come back in the order
the jobs were given, so output stays deterministic whatever the scheduling.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance.reports import render

COST = {"pdf": 3, "xlsx": 2, "html": 1}  # relative rendering cost, for scheduling


@dataclass(frozen=True)
class RenderJob:
    report: dict[str, Any]
    fmt: str  # pdf | html | xlsx
    templates: Path | None = None


def render_bytes(job: RenderJob) -> bytes:
    """Render one report to bytes in the current process."""
    if job.fmt == "html":
        return render.render_html(job.report, job.templates).encode("utf-8")
    if job.fmt == "pdf":
        data = render.render_pdf(job.report, None, job.templates)
        assert data is not None
        return data
    if job.fmt == "xlsx":
        from compliance.reports.xlsx import write_workbook

        buffer = io.BytesIO()
        write_workbook(job.report, buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown format {job.fmt!r}")


def render_all(
    jobs: Sequence[RenderJob],
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[bytes]:
    """Render every job; with workers > 1, in that many processes. Same order as `jobs`."""
    total = len(jobs)
    if workers <= 1 or total <= 1:
        out = []
        for i, job in enumerate(jobs, 1):
            out.append(render_bytes(job))
            if progress:
                progress(i, total)
        return out
    # spawn, not fork: the parent holds database connections and a progress thread.
    context = multiprocessing.get_context("spawn")
    results: list[bytes | None] = [None] * total
    with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=context) as pool:
        # Longest first (PDF layout dwarfs a workbook or HTML), so that no worker is left with a
        # long job at the end while the other idles.
        order = sorted(range(total), key=lambda i: (COST.get(jobs[i].fmt, 0), -i), reverse=True)
        futures = {pool.submit(render_bytes, jobs[i]): i for i in order}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if progress:
                progress(done, total)
    return [r for r in results if r is not None]
