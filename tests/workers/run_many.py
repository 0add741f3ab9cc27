"""Run several `compliance` commands in one interpreter, one after the other.

Usage: python tests/workers/run_many.py COMMANDS.json   where the file holds a list of argument
lists. For each command, one JSON line is printed: its arguments, exit code, output and seconds.
Used where a test needs a separate process (it may block on a lock the test holds) but not one
interpreter start per command.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from compliance.cli.main import cli

if __name__ == "__main__":
    commands = json.loads(Path(sys.argv[1]).read_text())
    runner = CliRunner()
    for args in commands:
        started = time.monotonic()
        result = runner.invoke(cli, args, catch_exceptions=True)
        line = dict(
            args=args,
            exit=result.exit_code,
            output=result.output,
            error=repr(result.exception) if result.exception else None,
            seconds=round(time.monotonic() - started, 3),
        )
        print(json.dumps(line), flush=True)
