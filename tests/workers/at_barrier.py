"""Run the `compliance` command line once every worker is ready (concurrency tests).

Usage: python tests/workers/at_barrier.py COMPLIANCE-ARGS...   with $COMPLIANCE_BARRIER set to
a folder. The worker imports the engine, writes `ready-<pid>` there, waits for a file named
`go`, then runs the command and writes `times-<pid>` (wall-clock start and end, in seconds) so
the test can tell how many commands really ran at once, and how many transient database errors
(`database is locked`, deadlocks) the command line's retry absorbed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from compliance.cli.main import main
from compliance.store import db

transient = 0
_is_transient = db.is_transient


def _counting(exc: BaseException) -> bool:
    global transient
    found = _is_transient(exc)
    transient += found
    return found


db.is_transient = _counting

if __name__ == "__main__":
    barrier = Path(os.environ["COMPLIANCE_BARRIER"])
    (barrier / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not (barrier / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("at_barrier: no go signal within 120 s")
        time.sleep(0.002)
    started = time.time()
    try:
        sys.argv = ["compliance", *sys.argv[1:]]
        main()
    finally:
        (barrier / f"times-{os.getpid()}").write_text(f"{started} {time.time()} {transient}\n")
