"""Hardening (issue 14): each finding of an attack on the tool as a hostile user, as a test.

1. templates run in a sandbox; overrides are named in reports, in a pack's manifest and VERIFY.txt;
2. output files never follow a planted link and never replace the database, the evidence store
   or an input;
3. read-only commands read a snapshot and never wait for a writer, nor a writer for them;
4. one maximum length per text field, checked before the database on both backends;
5. text from data reaches the terminal escaped;
6. the gate names its policy, and no policy passes itself off as the built-in baseline;
7. evidence by hash only from the same deployment; one evidence store per database; workbooks
   and packs byte-identical with and without lxml.

Every test fails on the code before the fix and runs on SQLite and PostgreSQL where the finding
depends on the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text

from compliance.resources import mappings_dir
from compliance.store import db
from tests import factories
from tests.conftest import Cli
from tests.reliability import ROOT, WORKERS
from tests.tamper import drop_guards

EXAMPLES = ROOT / "examples"
CLI = "import sys; from compliance.cli.main import main; sys.argv[0] = 'compliance'; main()"
GUARD = 120  # seconds: a hang guard for one command, far above what any takes here
# What does not depend on the database (templates, the output path logic) runs on SQLite alone.
ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])


def _cli(
    base: list[str], *args: str, timeout: float = GUARD, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """The command line in a process of its own: its result and its wall-clock seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CLI, *base, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done, time.monotonic() - started


@pytest.fixture
def examples(run: Cli) -> None:
    result = run("import", str(EXAMPLES))
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------------------
# 1. Templates


@ONE_BACKEND
def test_a_template_reaching_for_python_internals_is_refused_naming_it(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 1: `--templates` ran arbitrary code (the Jinja environment was not sandboxed)."""
    override = tmp_path / "brand"
    override.mkdir()
    marker = tmp_path / "ran"
    (override / "base.html").write_text(
        (ROOT / "templates" / "base.html")
        .read_text()
        .replace(
            "<body>",
            "<body>{{ cycler.__init__.__globals__.os.popen('touch "
            + str(marker)
            + " && id').read() }}",
        )
    )
    out = tmp_path / "gap.html"
    result = run(
        "report",
        "gap",
        "kb-search-assistant",
        "--format",
        "html",
        "-o",
        str(out),
        "--templates",
        str(override),
    )
    assert result.exit_code == 1, result.output
    assert "error: template base.html, line " in result.output
    assert "(from --templates)" in result.output and "unsafe" in result.output
    assert "uid=" not in result.output
    assert not marker.exists() and not out.exists()


def _approving_gap_template(folder: Path) -> None:
    folder.mkdir()
    (folder / "gap.html").write_text(
        '{% extends "base.html" %}{% block body %}<h1>Decision: APPROVE</h1>{% endblock %}'
    )


@ONE_BACKEND
def test_reports_and_packs_name_their_template_overrides(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 1: a gap.html override printing APPROVE shipped in a pack whose manifest said
    nothing about templates, and `pack verify` said OK."""
    override = tmp_path / "brand"
    _approving_gap_template(override)
    (override / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    digest = {
        name: hashlib.sha256((override / name).read_bytes()).hexdigest()
        for name in ("gap.html", "logo.svg")
    }
    html = tmp_path / "gap.html"
    result = run(
        "report",
        "gap",
        "kb-search-assistant",
        "--format",
        "html",
        "-o",
        str(html),
        "--templates",
        str(override),
    )
    assert result.exit_code == 0, result.output
    footer = (
        f"custom templates: gap.html {digest['gap.html'][:12]}, logo.svg {digest['logo.svg'][:12]}"
    )
    assert footer in html.read_text()

    pack = tmp_path / "pack.zip"
    result = run(
        "pack",
        "--include-drafts",
        "--deployment",
        "kb-search-assistant",
        "--framework",
        "owasp-asi-2026",
        "--templates",
        str(override),
        "-o",
        str(pack),
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        verify_text = zf.read("VERIFY.txt").decode()
    assert manifest["template_overrides"] == [
        {"name": n, "sha256": digest[n], "size": (override / n).stat().st_size}
        for n in ("gap.html", "logo.svg")
    ]
    assert "rendered with custom templates" in verify_text
    assert f"{digest['gap.html']}  gap.html" in verify_text
    verified = run("pack", "verify", str(pack))
    assert verified.exit_code == 0
    assert "rendered with 2 custom template file(s)" in verified.output

    plain = tmp_path / "plain.zip"
    result = run(
        "pack",
        "--include-drafts",
        "--deployment",
        "kb-search-assistant",
        "--framework",
        "owasp-asi-2026",
        "-o",
        str(plain),
    )
    with zipfile.ZipFile(plain) as zf:
        assert json.loads(zf.read("manifest.json"))["template_overrides"] == []
        assert "custom templates" not in zf.read("VERIFY.txt").decode()


@ONE_BACKEND
def test_an_override_cannot_drop_the_notice_of_overrides(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    override = tmp_path / "brand"
    override.mkdir()
    (override / "base.html").write_text("<html><body>{% block body %}{% endblock %}</body></html>")
    out = tmp_path / "gap.html"
    result = run(
        "report",
        "gap",
        "kb-search-assistant",
        "--format",
        "html",
        "-o",
        str(out),
        "--templates",
        str(override),
    )
    assert result.exit_code == 0, result.output
    assert 'class="overrides-notice">Rendered with custom templates: base.html ' in out.read_text()


@ONE_BACKEND
def test_a_templates_folder_linking_outside_itself_is_refused(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private key")
    override = tmp_path / "brand"
    override.mkdir()
    os.symlink(secret, override / "notes.html")
    (override / "gap.html").write_text('{% include "notes.html" %}')
    out = tmp_path / "gap.html"
    result = run(
        "report",
        "gap",
        "kb-search-assistant",
        "--format",
        "html",
        "-o",
        str(out),
        "--templates",
        str(override),
    )
    assert result.exit_code == 1
    assert "notes.html is a link to" in result.output and "outside the folder" in result.output
    assert not out.exists()


# ------------------------------------------------------------------------------------------
# 2. Output files


def _report_args(kind: str, out: Path) -> list[str]:
    if kind == "report":
        return ["report", "gap", "kb-search-assistant", "--format", "html", "-o", str(out)]
    if kind == "export":
        return ["export", "oscal", "kb-search-assistant", "-o", str(out)]
    return [
        "pack",
        "--include-drafts",
        "--deployment",
        "kb-search-assistant",
        "--framework",
        "owasp-asi-2026",
        "-o",
        str(out),
    ]


@ONE_BACKEND
@pytest.mark.parametrize("kind", ["report", "export", "pack"])
def test_output_never_follows_a_link_planted_at_its_temporary_name(
    run: Cli, examples: None, tmp_path: Path, kind: str
) -> None:
    """Finding 2: `ln -s victim.txt .out1.pdf.partial` made a report overwrite victim.txt."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out" / "result.bin"
    out.parent.mkdir()
    for planted in (f".{out.name}.partial", f".{out.name}.tmp"):
        os.symlink(victim, out.parent / planted)
    result = run(*_report_args(kind, out))
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert out.is_file() and not out.is_symlink() and out.stat().st_size > 0
    # Nothing left behind but the planted links and the output.
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        [out.name, f".{out.name}.partial", f".{out.name}.tmp"]
    )


@ONE_BACKEND
@pytest.mark.parametrize("kind", ["report", "export"])
def test_output_replaces_a_link_rather_than_writing_through_it(
    run: Cli, examples: None, tmp_path: Path, kind: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "result.bin"
    os.symlink(victim, out)
    run(*_report_args(kind, out))
    assert victim.read_text() == "precious"


def _protected_targets(run: Cli, tmp_path: Path) -> dict[str, Path]:
    store = run.evidence
    blob = next(p for p in store.rglob("*") if p.is_file() and p.parent != store)
    targets = {
        "the evidence store": store,
        "a file in the evidence store": blob,
        "a new file in the evidence store": store / "new.zip",
        "a link into the evidence store": tmp_path / "link-to-store",
    }
    os.symlink(blob, targets["a link into the evidence store"])
    if run.url.startswith("sqlite"):
        database = Path(run.url.removeprefix("sqlite:///"))
        targets["the database"] = database
        for suffix in ("-wal", "-shm", "-journal"):
            targets[f"the database's {suffix}"] = database.with_name(database.name + suffix)
        targets["a link to the database"] = tmp_path / "link-to-db"
        os.symlink(database, targets["a link to the database"])
        targets["a hard link to the database"] = tmp_path / "hard-link-to-db"
        os.link(database, targets["a hard link to the database"])
    return targets


@pytest.mark.parametrize("kind", ["report", "export", "pack"])
def test_output_onto_the_database_or_the_evidence_store_is_refused(
    run: Cli, examples: None, engine: Engine, tmp_path: Path, kind: str
) -> None:
    """Finding 2: `-o` naming the database in use silently replaced it."""
    from tests.test_import_corpus import snapshot

    rows = snapshot(engine)
    for what, target in _protected_targets(run, tmp_path).items():
        # (A SQLite file's bytes change when its WAL is checkpointed: its rows are compared.)
        database = "database" in what
        before = target.read_bytes() if target.is_file() and not database else None
        result = run(*_report_args(kind, target))
        if target.is_dir():  # the command line's own check comes first
            assert result.exit_code == 2 and "is a directory" in result.output, what
            continue
        assert result.exit_code == 1, (what, result.output)
        assert "error: refusing to write" in result.output, (what, result.output)
        if before is not None:
            assert target.read_bytes() == before, what
    assert snapshot(engine) == rows
    assert run("audit", "verify").exit_code == 0  # the database is intact


@ONE_BACKEND
def test_output_onto_an_input_of_the_command_is_refused(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    doc = yaml.safe_load((mappings_dir() / "policy.yaml").read_text())
    doc["id"] = "own-policy"
    policy.write_text(yaml.safe_dump(doc))
    override = tmp_path / "brand"
    _approving_gap_template(override)
    catalog_dir = tmp_path / "catalogs"
    catalog_dir.mkdir()
    gap = ["report", "gap", "kb-search-assistant", "--format", "html"]
    cases = {
        "the policy file": [*gap, "--policy", str(policy), "-o", str(policy)],
        "a template": [*gap, "--templates", str(override), "-o", str(override / "gap.html")],
        "a new file among the templates": [
            *gap,
            "--templates",
            str(override),
            "-o",
            str(override / "x.html"),
        ],
        "the pack's policy": [
            "pack",
            "--include-drafts",
            "--policy",
            str(policy),
            "-o",
            str(policy),
        ],
    }
    for what, args in cases.items():
        before = {p: p.read_bytes() for p in (policy, override / "gap.html")}
        result = run(*args)
        assert result.exit_code == 1 and "refusing to write" in result.output, what
        assert {p: p.read_bytes() for p in before} == before, what
    result = run(*gap, "-o", str(catalog_dir / "gap.html"), catalog_dirs=(catalog_dir,))
    assert result.exit_code == 1 and "inside a catalog folder" in result.output


def test_report_gap_all_refuses_a_folder_inside_the_evidence_store(
    run: Cli, examples: None
) -> None:
    result = run("report", "gap", "--all", "--format", "html", "-o", str(run.evidence / "r"))
    assert result.exit_code == 1 and "inside the evidence store" in result.output
    assert not (run.evidence / "r").exists()


# ------------------------------------------------------------------------------------------
# 3. Readers never wait for writers


def _hold_writer_lock(engine: Engine) -> Any:
    """Take the writers' lock in an open transaction, as a long writer would; return it."""
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE (store.db): the write lock
    else:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": db.WRITER_LOCK_KEY})
    return conn


def test_read_only_commands_never_take_or_wait_for_the_writer_lock(
    run: Cli, examples: None, engine: Engine, tmp_path: Path
) -> None:
    """Finding 3: every session began with BEGIN IMMEDIATE or the advisory lock, so `gate`
    waited for a writer (and a writer for it)."""
    out = tmp_path / "out"
    base = ["--db", run.url, "--evidence-dir", str(run.evidence)]
    commands = [
        ["gate", "payments-recon-agent", "--json"],
        ["gaps", "payments-recon-agent"],
        ["deployments"],
        ["catalogs", "list"],
        ["catalogs", "show", "owasp-asi-2026"],
        ["checks", "list"],
        ["assessment", "list", "payments-recon-agent"],
        ["report", "gap", "payments-recon-agent", "--format", "html", "-o", str(out / "g.html")],
        ["report", "summary", "--format", "xlsx", "-o", str(out / "s.xlsx")],
        [
            "report",
            "evidence",
            "--framework",
            "owasp-asi-2026",
            "--format",
            "html",
            "-o",
            str(out / "e.html"),
        ],
        ["export", "oscal", "payments-recon-agent", "-o", str(out / "o.json")],
        # `pack` reads a snapshot too, but then writes its own audit event: it takes the lock
        # for that moment only (test_gate_and_import_do_not_wait_for_a_long_pack).
        ["audit", "log"],
        ["audit", "verify"],
    ]
    spec = tmp_path / "commands.json"
    spec.write_text(json.dumps([[*base, *c] for c in commands]))
    held = _hold_writer_lock(engine)
    try:
        done = subprocess.run(
            [sys.executable, str(WORKERS / "run_many.py"), str(spec)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "COMPLIANCE_SQLITE_BUSY_TIMEOUT_MS": "1000"},
            check=False,
        )
    finally:
        held.close()
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(commands), done.stdout + done.stderr
    for line in lines:
        assert line["exit"] in (0, 3, 4), line
        assert "locked" not in line["output"], line


def test_gate_and_import_do_not_wait_for_a_long_pack(
    backend: str, run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 3: a long `pack` made `gate` wait (81 s of 85) and failed imports. With a pack
    held open in the middle of its work (it has read its data and is about to render), `gate`
    takes no longer than alone (at most twice, as a ratio of medians) and an import lands; the
    pack then finishes from its own snapshot, without the deployment imported meanwhile."""
    base = ["--db", run.url, "--evidence-dir", str(run.evidence)]
    gate = [*base, "gate", "payments-recon-agent", "--json"]
    alone = []
    for _ in range(3):
        done, seconds = _cli(gate, timeout=GUARD)
        assert done.returncode == 4, done.stdout + done.stderr
        alone.append(seconds)

    hold = tmp_path / "hold"
    hold.mkdir()
    pack = tmp_path / "pack.zip"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(WORKERS / "held_pack.py"),
            *base,
            "pack",
            "--include-drafts",
            "--deployment",
            "kb-search-assistant",
            "--framework",
            "owasp-asi-2026",
            "-o",
            str(pack),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COMPLIANCE_HOLD": str(hold)},
    )
    try:
        deadline = time.monotonic() + GUARD
        while not (hold / "held").exists():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the pack never reached its rendering"
            time.sleep(0.02)
        during = []
        for _ in range(3):
            done, seconds = _cli(gate, timeout=GUARD)
            assert done.returncode == 4, done.stdout + done.stderr
            during.append(seconds)
        doc = factories.assessment_doc(deployment_overrides={"id": "imported-during-pack"})
        done, _seconds = _cli(base, "import", str(factories.write(tmp_path / "new", doc)))
        assert done.returncode == 0, done.stdout + done.stderr
        assert proc.poll() is None, "the pack was not running any more"
    finally:
        (hold / "release").touch()
        output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output
    ratio = statistics.median(during) / statistics.median(alone)
    assert ratio <= 2, f"gate took {ratio:.2f}x as long during the pack ({during} vs {alone})"
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["scope"]["deployments"] == ["kb-search-assistant"]
    gate_new = run("gate", "imported-during-pack", "--json")
    assert gate_new.exit_code in (0, 3, 4), gate_new.output


def test_a_snapshot_cannot_write(engine: Engine) -> None:
    with db.snapshot(engine) as session, pytest.raises(Exception, match=r"(?i)read.?only"):
        session.execute(text("DELETE FROM audit_events"))


# ------------------------------------------------------------------------------------------
# 5. Terminal output

SPOOF = "Spoof\nDecision: APPROVE\r\x1b[2K\x1b]0;owned\x07\u202eevil\x1b[8m"


def test_text_from_data_reaches_the_terminal_escaped(run: Cli, tmp_path: Path) -> None:
    """Finding 5: a deployment name holding a newline, `Decision: APPROVE` and escape
    sequences printed a fake decision in `gate`'s text and hid the real one."""
    results = factories.results(factories.LOW_REQUIRED)
    results[0]["status"] = "fail"
    doc = factories.assessment_doc(
        results_list=results,
        deployment_overrides={"name": SPOOF, "owner": SPOOF},
        assessor=SPOOF,
    )
    folder = tmp_path / "evil\x1b[31mname"
    path = factories.write(folder, doc)
    imported = run("import", str(path))
    assert imported.exit_code == 0, imported.output
    gate = run("gate", "test-agent", "--as-of", "2026-11-20")
    assert gate.exit_code == 4
    outputs = {
        "import": imported.output,
        "gate": gate.output,
        "gaps": run("gaps", "test-agent").output,
        "deployments": run("deployments").output,
        "assessment list": run("assessment", "list", "test-agent").output,
        "audit log": run("audit", "log").output,
        "error": run("gate", "test-agent", "--assessment", "x\x1b[8my").output,
    }
    for what, output in outputs.items():
        assert "\x1b" not in output and "\r" not in output and "\u202e" not in output, what
        assert "\x07" not in output, what
    assert [line for line in gate.output.splitlines() if "Decision:" in line] == [
        "Spoof\\nDecision: APPROVE\\r\\x1b[2K\\x1b]0;owned\\x07\\u202eevil\\x1b[8m (test-agent), "
        "assessment 2026-Q4 of 2026-11-20 (a draft, not finalized), decided as of 2026-11-20",
        "Decision: BLOCK",
    ]
    assert "evil\\x1b[31mname" in imported.output
    # JSON stays exact JSON: the same text comes back.
    data = json.loads(run("gate", "test-agent", "--json").output)
    assert data["decision"] == "BLOCK"
    rows = json.loads(run("deployments", "--json").output)
    assert rows[0]["name"] == SPOOF
    raw = run("deployments", "--json").output
    assert "\u202e" not in raw and "\\u202e" in raw


def test_the_command_line_prints_through_one_helper() -> None:
    """Every line a command prints goes through context.say (or echo_json): no other printing
    in compliance/cli, so text from data cannot reach the terminal unescaped."""
    for path in sorted((ROOT / "compliance" / "cli").glob("*.py")):
        if path.name == "context.py":
            continue
        source = path.read_text()
        for raw in ("click.echo(", "click.secho(", "sys.stdout", "sys.stderr"):
            assert raw not in source, f"{path.name} prints with {raw}"
        assert not re.search(r"(?<![\w.])print\(", source), f"{path.name} calls print()"


def test_audit_log_escapes_an_actor_stored_with_control_characters(
    run: Cli, engine: Engine, tmp_path: Path
) -> None:
    """Finding 5: COMPLIANCE_ACTOR holding a CR forged `audit log` lines. New actors with
    control characters are refused (see the limits tests); one already stored is escaped."""
    drop_guards(engine)  # as someone with rights over the table would
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = :a"), {"a": "eve\r#9999 forged"})
    out = run("audit", "log").output
    assert "\r" not in out and "eve\\r#9999 forged" in out


# ------------------------------------------------------------------------------------------
# 6. Policy provenance


def test_gate_names_the_policy_in_its_text(run: Cli, examples: None) -> None:
    """Finding 6: the gate's text never named the policy that decided."""
    data = json.loads(run("gate", "kb-search-assistant", "--json").output)
    sha = data["policy"]["sha256"]
    out = run("gate", "kb-search-assistant").output
    assert f"Policy: baseline-policy 2.0.0 (sha256 {sha[:12]})" in out.splitlines()


def test_a_policy_claiming_the_baseline_id_and_version_is_refused(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 6: a lax `--policy` could call itself baseline-policy 1.0.0; reports showed the
    baseline's name beside a different hash."""
    lax = yaml.safe_load((mappings_dir() / "policy.yaml").read_text())
    for tier in lax["tiers"]:
        tier["requires"] = []
        tier["min_safety_score"] = 0
    lax["additional_requirements"] = []
    path = tmp_path / "lax.yaml"
    path.write_text(yaml.safe_dump(lax))
    for args in (
        ["gate", "payments-recon-agent", "--policy", str(path)],
        [
            "report",
            "gap",
            "payments-recon-agent",
            "--format",
            "html",
            "--policy",
            str(path),
            "-o",
            str(tmp_path / "g.html"),
        ],
        ["pack", "--include-drafts", "--policy", str(path), "-o", str(tmp_path / "p.zip")],
    ):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert (
            f"{path}: id: policy 'baseline-policy' version '2.0.0' is the id and version of "
            "the built-in baseline policy, but this file's content differs"
        ) in result.output
    folder = tmp_path / "org"
    folder.mkdir()
    (folder / "policy.yaml").write_text(yaml.safe_dump(lax))
    result = run("gate", "payments-recon-agent", catalog_dirs=(folder,))
    assert result.exit_code == 1 and "built-in baseline policy" in result.output
    # The baseline itself, byte for byte, is the baseline; another version is another policy.
    same = tmp_path / "same.yaml"
    same.write_bytes((mappings_dir() / "policy.yaml").read_bytes())
    assert run("gate", "payments-recon-agent", "--policy", str(same)).exit_code == 4
    lax["version"] = "2.0.0-lax"
    path.write_text(yaml.safe_dump(lax))
    result = run("gate", "payments-recon-agent", "--policy", str(path))
    assert result.exit_code != 1 and "Policy: baseline-policy 2.0.0-lax" in result.output


# ------------------------------------------------------------------------------------------
# 4. Limits (the bad-input corpus holds the file cases: tests/data/bad/CASES.yaml)


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        ("a" * 301, "COMPLIANCE_ACTOR: expected at most 300 characters, got 301"),
        ("eve\r#9999 forged", "COMPLIANCE_ACTOR: control characters and escape sequences"),
        ("eve\x1b[8m", "COMPLIANCE_ACTOR: control characters and escape sequences"),
    ],
    ids=["too-long", "carriage-return", "escape-sequence"],
)
def test_compliance_actor_is_validated_before_anything_is_written(
    run: Cli,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    actor: str,
    message: str,
) -> None:
    """Finding 4: an actor over 300 characters was stored by SQLite and failed on PostgreSQL with
    a raw SQL error; finding 5: one holding a CR forged `audit log` lines."""
    from tests.test_import_corpus import snapshot, stored_files

    path = factories.write(tmp_path / "a", factories.assessment_doc())
    assert run("import", str(path)).exit_code == 0
    before, files = snapshot(engine), stored_files(run.evidence)
    monkeypatch.setenv("COMPLIANCE_ACTOR", actor)
    doc = factories.assessment_doc(deployment_overrides={"id": "second-agent"})
    for args in (
        ["import", str(factories.write(tmp_path / "b", doc))],
        ["assessment", "finalize", "test-agent", "2026-Q4"],
    ):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "error: 1 problem(s) found; nothing was written" in result.output
        assert f"  {message}" in result.output and "[SQL:" not in result.output
    assert snapshot(engine) == before and stored_files(run.evidence) == files
    monkeypatch.setenv("COMPLIANCE_ACTOR", "a" * 300)
    assert run("assessment", "finalize", "test-agent", "2026-Q4").exit_code == 0


def test_limits_are_the_columns_own() -> None:
    """One place: the lengths checked are the SQLAlchemy column types'."""
    from compliance import limits
    from compliance.store.models import Base

    assert limits.max_length("deployments", "name") == 300
    assert limits.max_length("assessments", "source_name") == 1000
    assert limits.max_length("audit_events", "actor") == 300
    assert limits.max_length("results", "notes") is None  # Text: bounded by the input limits
    for table in Base.metadata.tables.values():
        for column in table.columns:
            length = getattr(column.type, "length", None)
            assert limits.max_length(table.name, column.name) == length


# ------------------------------------------------------------------------------------------
# 7. Evidence store


def _doc_with_file(folder: Path, dep: str, content: bytes, sha: str | None = None) -> Path:
    results = factories.results(factories.LOW_REQUIRED)
    item: dict[str, Any] = {"file": "evidence/owner.md"}
    if sha is not None:
        item["sha256"] = sha
    results[0]["evidence"] = [item]
    if sha is None:
        (folder / "evidence").mkdir(parents=True)
        (folder / "evidence" / "owner.md").write_bytes(content)
    doc = factories.assessment_doc(results_list=results, deployment_overrides={"id": dep})
    return factories.write(folder, doc)


def test_evidence_by_hash_alone_resolves_only_the_same_deployments_files(
    run: Cli, tmp_path: Path
) -> None:
    """Finding 7: evidence claimed by hash alone could name another deployment's file, and so
    probe whether a file is in the store."""
    secret = b"another team's incident report\n"
    sha = hashlib.sha256(secret).hexdigest()
    assert run("import", str(_doc_with_file(tmp_path / "a", "owner-agent", secret))).exit_code == 0
    absent = hashlib.sha256(b"not in the store").hexdigest()
    outputs = {}
    for claimed in (sha, absent):
        path = _doc_with_file(tmp_path / f"b-{claimed[:8]}", "prober-agent", b"", claimed)
        result = run("import", str(path))
        assert result.exit_code == 1, result.output
        outputs[claimed] = result.output.replace(str(path.parent), "FOLDER").replace(claimed, "SHA")
    # The answer does not depend on whether the store holds the file.
    assert outputs[sha] == outputs[absent]
    assert (
        "and no evidence file with sha256 SHA was imported before for deployment prober-agent"
        in (outputs[sha])
    )
    # The deployment that imported the file may name it by hash in a later assessment.
    again = _doc_with_file(tmp_path / "a2", "owner-agent", b"", sha)
    doc = yaml.safe_load(again.read_text())
    doc["assessment"]["id"] = "2027-Q1"
    again.write_text(yaml.safe_dump(doc))
    result = run("import", str(again))
    assert result.exit_code == 0, result.output


def test_a_command_against_another_evidence_store_is_refused_naming_both(
    run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 7: nothing tied a database to its evidence store; importing into one folder and
    packing from another failed late, or packed nothing."""
    first = run.evidence.absolute()
    marker = first / ".compliance-store"
    assert marker.is_file()
    store_id = marker.read_text().split()[1]
    other = Cli(run.url, tmp_path / "other-store")
    doc = factories.assessment_doc(deployment_overrides={"id": "elsewhere-agent"})
    for args in (
        ["import", str(factories.write(tmp_path / "new", doc))],
        [
            "pack",
            "--include-drafts",
            "--deployment",
            "kb-search-assistant",
            "-o",
            str(tmp_path / "p.zip"),
        ],
    ):
        result = other(*args)
        assert result.exit_code == 1, result.output
        assert (
            f"{tmp_path / 'other-store'} is no evidence store of this database; this database's "
            f"evidence is in the evidence store {store_id} (first used at {first})"
        ) in result.output
    assert not (tmp_path / "other-store").exists() and not (tmp_path / "p.zip").exists()
    # A copy of the right store is the right store; a second database may share it too.
    copy = tmp_path / "copy-store"
    shutil.copytree(first, copy)
    result = Cli(run.url, copy)("import", str(factories.write(tmp_path / "new", doc)))
    assert result.exit_code == 0, result.output


def test_server_database_default_store_does_not_depend_on_the_working_directory(
    backend: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 7: on PostgreSQL the default ./evidence-store depended on the working folder, so
    imports from two folders split the store and `pack` later failed."""
    if backend != "postgresql":
        pytest.skip("a SQLite database keeps its store beside its file")
    from click.testing import CliRunner

    from compliance.cli.main import cli

    monkeypatch.delenv("COMPLIANCE_EVIDENCE_DIR", raising=False)

    def compliance(cwd: Path, *args: str) -> Any:
        cwd.mkdir(exist_ok=True)
        monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, ["--db", db_url, *args], catch_exceptions=False)

    one, two = tmp_path / "one", tmp_path / "two"
    result = compliance(one, "import", str(EXAMPLES / "kb-search-assistant"))
    assert result.exit_code == 0, result.output
    assert f"of them new in {one / 'evidence-store'}" in result.output
    result = compliance(two, "import", str(EXAMPLES / "payments-recon-agent"))
    assert result.exit_code == 0, result.output
    assert f"of them new in {one / 'evidence-store'}" in result.output
    assert not (two / "evidence-store").exists()
    result = compliance(
        two, "pack", "--include-drafts", "--deployment", "kb-search-assistant", "--deployment",
        "payments-recon-agent", "--framework", "owasp-asi-2026", "-o", str(tmp_path / "pack.zip"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output


WORKBOOK_AND_PACK = """\
import sys
if sys.argv[1] == "blocked":
    sys.modules["lxml"] = None  # as if lxml were not installed
else:
    import lxml.etree  # noqa: F401  (installed with the dev extras)
from compliance.cli.main import main
sys.argv = ["compliance", *sys.argv[2:]]
main()
"""


def test_workbooks_and_packs_are_byte_identical_with_and_without_lxml(
    backend: str, run: Cli, examples: None, tmp_path: Path
) -> None:
    """Finding 7: openpyxl switches to lxml's XML writer when lxml is installed, so workbooks and
    packs were byte-identical only on machines without it."""
    if backend != "sqlite":
        pytest.skip("the bytes of a workbook do not depend on the database")
    base = ["--db", run.url, "--evidence-dir", str(run.evidence)]
    made: dict[str, dict[str, bytes]] = {}
    for mode in ("blocked", "installed"):
        out = tmp_path / mode
        for args in (
            ["report", "summary", "--format", "xlsx", "--as-of", "2026-11-20", "-o",
             str(out / "summary.xlsx")],
            ["pack", "--include-drafts", "--deployment", "kb-search-assistant", "--framework", "owasp-asi-2026",
             "-o", str(out / "pack.zip")],
        ):  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-c", WORKBOOK_AND_PACK, mode, *base, *args],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        made[mode] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert made["blocked"] == made["installed"]
