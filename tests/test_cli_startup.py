"""What each command loads: start-up is part of every command's time, so `--help` and `--version`
import no SQLAlchemy, and the commands a pipeline runs per deployment (`gate`, `gaps`,
`deployments`) no report, spreadsheet or PDF library and no Alembic. Each command runs in a
process of its own and reports the modules it ended with; no time is measured here (see
`make bench` for the start-up ratios).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from compliance.cli.main import COMMANDS, LazyGroup, cli
from compliance.store import db
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
GOOD = Path(__file__).parent / "data" / "good"

# Runs the CLI as `compliance` does, then prints the top-level packages it loaded (to stdout's
# end, after a marker, whatever the command printed or however it exited).
PROBE = """\
import atexit, sys
def report():
    names = sorted({m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if m.startswith("compliance.")})
    sys.stdout.write("\\n@@MODULES@@" + " ".join(names) + "\\n")
    sys.stdout.flush()
atexit.register(report)
from compliance.cli.main import main
sys.argv[0] = "compliance"
main()
"""

REPORTING = {"weasyprint", "openpyxl", "jinja2"}


def loaded(*args: str) -> tuple[int, set[str], str]:
    """Exit code, modules loaded and output of `compliance ARGS` in a new process."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    output, _, modules = proc.stdout.rpartition("@@MODULES@@")
    assert modules, proc.stderr
    return proc.returncode, set(modules.split()), output + proc.stderr


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"], []])
def test_help_and_version_load_no_database_code(args: list[str]) -> None:
    code, modules, output = loaded(*args)
    assert code in (0, 2), output  # a group without a command prints its usage
    assert "sqlalchemy" not in modules
    assert {m for m in modules if m.startswith("compliance.")} == {
        "compliance.cli",
        "compliance.cli.main",
    }
    assert not modules & (REPORTING | {"pydantic", "yaml", "alembic", "rich"})


def test_gate_gaps_and_deployments_load_no_report_libraries(run: Cli) -> None:
    assert run("import", str(GOOD)).exit_code == 0
    base = ["--db", run.url, "--evidence-dir", str(run.evidence)]
    for args in (
        ["gate", "corpus-good-alpha", "--json"],
        ["gate", "corpus-good-alpha"],
        ["gaps", "corpus-good-alpha", "--json"],
        ["gaps", "corpus-good-alpha", "--framework", "nist-csf-2.0"],
        ["deployments", "--json"],
        ["deployments"],
    ):
        code, modules, output = loaded(*base, *args)
        assert code in (0, 3, 4), output
        assert "corpus-good-alpha" in output
        assert not modules & REPORTING, (args, modules & REPORTING)
        assert "alembic" not in modules, args  # the schema check reads the scripts' revision ids
        assert "compliance.reports.render" not in modules


def test_a_command_imports_its_own_module_only() -> None:
    code, modules, _output = loaded("gate", "--help")
    assert code == 0
    cli_modules = {m for m in modules if m.startswith("compliance.cli.")}
    assert cli_modules == {
        "compliance.cli.main",
        "compliance.cli.context",
        "compliance.cli.decisions",
    }


def test_the_command_table_matches_the_commands() -> None:
    """The names, targets and help in `COMMANDS` are those of the commands themselves."""
    import importlib

    for name, lazy in COMMANDS.items():
        module, _, attribute = lazy.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        assert command.name == name
        assert command.help is not None
        first_paragraph = inspect.cleandoc(command.help).split("\n\n")[0]
        assert lazy.help.split() == first_paragraph.split(), name  # the words: what --help shows


def test_help_lists_the_commands_as_click_would() -> None:
    lazy_help = CliRunner().invoke(cli, ["--help"], terminal_width=100).output
    # The same group with every command already imported: click's own listing.
    eager = LazyGroup(
        name=cli.name,
        params=cli.params,
        callback=cli.callback,
        help=cli.help,
        context_settings=cli.context_settings,
        lazy=COMMANDS,
    )
    for name in COMMANDS:
        eager.get_command(click.Context(eager), name)
    assert set(eager.commands) == set(COMMANDS)
    eager_help = CliRunner().invoke(eager, ["--help"], terminal_width=100).output
    assert lazy_help == eager_help
    for name in COMMANDS:
        assert f"  {name} " in lazy_help


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = CliRunner().invoke(cli, ["gat"])
    assert result.exit_code == 2
    assert "No such command 'gat'" in result.output
    assert "gate" in result.output.split("No such command")[1]


# The schema check without Alembic -------------------------------------------------------------


def test_the_schema_head_read_from_the_scripts_is_alembics(engine: Engine) -> None:
    assert db._script_head() is not None
    assert db._script_head() == db.head_revision(engine)
    assert db._stamped_revision(engine) == db.current_revision(engine) == db.head_revision(engine)


def test_a_database_without_the_current_schema_is_refused(
    empty_db_url: str, run: Cli, engine: Engine, tmp_path: Path
) -> None:
    empty = Cli(empty_db_url, tmp_path / "store")
    result = empty("gate", "x", "--json")
    assert result.exit_code == 1
    assert "has no schema; run `compliance db upgrade` first" in result.output

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    result = run("gate", "x", "--json")
    assert result.exit_code == 1
    head = db.head_revision(engine)
    assert f"is at revision 0000, not {head}; run `compliance db upgrade` first" in result.output

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    result = run("gate", "x", "--json")
    assert result.exit_code == 1
    assert "has no schema" in result.output


def test_gate_json_is_unchanged_by_lazy_loading(run: Cli) -> None:
    """In a process of its own, `gate --json` prints what the in-process CLI prints."""
    assert run("import", str(GOOD)).exit_code == 0
    in_process = run("gate", "corpus-good-beta", "--json")
    code, _modules, output = loaded(
        "--db", run.url, "--evidence-dir", str(run.evidence), "gate", "corpus-good-beta", "--json"
    )
    assert code == in_process.exit_code
    assert json.loads(output) == json.loads(in_process.output)
