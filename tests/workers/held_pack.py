"""Run `compliance pack`, holding it in the middle of its work (the readers-never-wait test).

Usage: python tests/workers/held_pack.py COMPLIANCE-ARGS...   with $COMPLIANCE_HOLD set to a
folder. Once the pack has read its data from the database and is about to render the reports,
the worker writes `held` there and waits for a file named `release` (at most 300 s) before it
goes on: for that whole time, the pack's database session is open, as it would be during the
long rendering of a large pack. The engine is not changed; the hold wraps the function the pack
renders with.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from compliance import pack
from compliance.cli.main import main

HOLD = Path(os.environ["COMPLIANCE_HOLD"])
_render_all = pack.render_all


def _held(*args: Any, **kwargs: Any) -> Any:
    (HOLD / "held").touch()
    deadline = time.monotonic() + 300
    while not (HOLD / "release").exists():
        if time.monotonic() > deadline:
            sys.exit("held_pack: no release within 300 s")
        time.sleep(0.01)
    return _render_all(*args, **kwargs)


pack.render_all = _held

if __name__ == "__main__":
    sys.argv = ["compliance", *sys.argv[1:]]
    main()
