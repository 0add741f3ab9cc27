"""Peak memory of writing the portfolio workbook, measured in a process of its own.

    python -m benchmarks.memprobe MODEL.pickle WORKDIR

Loads the summary view model, then traces Python allocations (tracemalloc) while the engine
writes the workbook, and again while the bare openpyxl loop writes the same cells. Prints JSON:
the peaks above what was allocated before each write (MiB), the peak RSS with the model
loaded, and how much the engine's write raised it.
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
import tracemalloc
from pathlib import Path

from benchmarks import floors


def _hwm_mib() -> float:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss, it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    model_file, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    report = pickle.loads(model_file.read_bytes())
    from compliance.reports.xlsx import write_workbook

    engine_path = workdir / "memprobe-engine.xlsx"
    floor_path = workdir / "memprobe-floor.xlsx"
    gc.collect()
    rss_before = _hwm_mib()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    write_workbook(report, engine_path)
    engine_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    rss_after = _hwm_mib()
    sheets = floors.read_cells(engine_path)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    floors.write_cells(sheets, floor_path)
    floor_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    engine_path.unlink(missing_ok=True)
    floor_path.unlink(missing_ok=True)
    print(
        json.dumps(
            dict(
                engine_peak_mib=engine_peak / 2**20,
                floor_peak_mib=floor_peak / 2**20,
                model_rss_mib=rss_before,
                rss_growth_mib=rss_after - rss_before,
            )
        )
    )


if __name__ == "__main__":
    main()
