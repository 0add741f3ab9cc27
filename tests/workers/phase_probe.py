"""Run the `compliance` command line, reporting its progress on a pipe (crash tests).

Usage: python tests/workers/phase_probe.py COMPLIANCE-ARGS...   with $COMPLIANCE_PHASE_FD set to
the write end of a pipe. One line is written per event, before the event happens:

    start      the interpreter is up, the command is about to run
    blob       an evidence file is about to be copied into the store
    commit     a database transaction is about to commit
    committed  a session transaction has committed

The engine is not changed: the markers come from SQLAlchemy event hooks and a wrapper around
EvidenceStore.put, so a kill timed on them lands inside the real write path.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from compliance import evidence
from compliance.cli.main import main

FD = int(os.environ["COMPLIANCE_PHASE_FD"])


def mark(tag: bytes) -> None:
    os.write(FD, tag + b"\n")


event.listen(Engine, "commit", lambda _conn: mark(b"commit"))
event.listen(Session, "after_commit", lambda _session: mark(b"committed"))
_put = evidence.EvidenceStore.put


def _marked_put(self: evidence.EvidenceStore, *args: Any, **kwargs: Any) -> Any:
    mark(b"blob")
    return _put(self, *args, **kwargs)


evidence.EvidenceStore.put = _marked_put  # type: ignore[method-assign]

if __name__ == "__main__":
    mark(b"start")
    sys.argv = ["compliance", *sys.argv[1:]]
    main()
