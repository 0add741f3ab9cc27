"""The bad-assessment corpus (tests/data/bad/CASES.yaml): every bad file is refused with a message
naming the file, the place and what was expected, and the database and evidence store are left
exactly as they were, whether the file is imported alone or together with good files."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from sqlalchemy import Engine, MetaData, select

from compliance.documents import MAX_DOCUMENT_BYTES
from compliance.evidence import STORE_MARKER
from tests.conftest import Cli

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
GOOD = DATA / "good"
CASES: list[dict[str, Any]] = yaml.safe_load((BAD / "CASES.yaml").read_text(encoding="utf-8"))
# Cases that are a folder given with --catalog-dir (an organisation's catalog, mapping or policy
# files) while good files are imported, rather than a file to import.
CATALOG_DIR = {c["path"] for c in CASES if c.get("setup") == "catalog-dir"}
IMPORTED = [c for c in CASES if c["path"] not in CATALOG_DIR]
GOOD_FILES = sorted(
    p.relative_to(GOOD).as_posix() for p in GOOD.glob("*/*") if p.suffix in {".yaml", ".json"}
)
SECONDS = 10  # a refused file, bombs and deep nesting included, must not keep the CLI busy

# Cases the importer is known to get wrong, each with the reason (strict xfail). None at present.
KNOWN_BUGS: dict[str, tuple[str, type[BaseException]]] = {}
CRASHING = {path for path, (_, raises) in KNOWN_BUGS.items() if raises is not AssertionError}


def _case_param(case: dict[str, Any]) -> Any:
    bug = KNOWN_BUGS.get(case["path"])
    marks = [pytest.mark.xfail(strict=True, reason=bug[0], raises=bug[1])] if bug else []
    return pytest.param(case, id=case["path"], marks=marks)


def snapshot(engine: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table in the database, as sorted tuples of text."""
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(tuple(str(v) for v in row) for row in conn.execute(select(table)))
            for name, table in sorted(meta.tables.items())
        }


def stored_files(store: Path) -> list[Path]:
    """The evidence files in a store (not its marker file, see store.identity)."""
    if not store.exists():
        return []
    return sorted(p for p in store.rglob("*") if not p.is_dir() and p.name != STORE_MARKER)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the bad corpus, with what git cannot keep well built in place."""
    root = tmp_path / "bad"
    shutil.copytree(BAD, root, symlinks=True)
    outside = tmp_path / "outside-secret.md"
    outside.write_text("Not evidence: this file is outside every assessment folder.\n")
    for case in CASES:
        target = root / case["path"]
        setup = case.get("setup")
        if setup == "symlink-outside":
            os.symlink(outside, target.parent / "evidence" / "owner.md")
        elif setup == "oversize":
            with target.open("wb") as fh:
                fh.truncate(MAX_DOCUMENT_BYTES + 1)
        elif setup == "long-path":
            deep = target.joinpath(*(c * 200 for c in "abcde"))
            deep.mkdir(parents=True)
            (target / "assessment.yaml").rename(deep / "assessment.yaml")
        elif setup == "catalog-dir":
            assert target.is_dir(), f"{case['path']} is listed in CASES.yaml but missing"
        else:
            assert setup is None, f"unknown setup {setup!r} in CASES.yaml"
            assert target.exists(), f"{case['path']} is listed in CASES.yaml but missing"
    return root


def problem_line(result: Result, path: Path, case: dict[str, Any]) -> str | None:
    """The reported problem naming the case's file, location and message, if there is one."""
    for line in result.output.splitlines():
        if str(path) in line and case["location"] in line and case["message"] in line:
            return line
    return None


def assert_refused(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    assert "Traceback" not in result.output
    assert "imported   " not in result.output


def test_corpus_is_complete() -> None:
    """Every case is listed once with the expected fields, and every file on disk is a case."""
    paths = [c["path"] for c in CASES]
    assert len(paths) == len(set(paths))
    assert len(paths) >= 30
    for c in CASES:
        assert set(c) <= {"path", "location", "message", "why", "setup"}, c
        assert c["message"] and c["why"], c
    assert set(KNOWN_BUGS) <= set(paths)
    listed = {p.split("/")[0] for p in paths}
    on_disk = {p.name for p in BAD.iterdir() if not p.name.startswith((".", "_"))} - {"CASES.yaml"}
    assert on_disk <= listed


@pytest.mark.parametrize("case", [_case_param(c) for c in CASES])
def test_bad_case_is_refused_and_writes_nothing(
    case: dict[str, Any], corpus: Path, run: Cli, engine: Engine
) -> None:
    path = corpus / case["path"]
    before = snapshot(engine)
    started = time.monotonic()
    if case["path"] in CATALOG_DIR:
        result = run("import", str(GOOD), catalog_dirs=(path,))
    else:
        result = run("import", str(path))
    elapsed = time.monotonic() - started

    assert_refused(result)
    assert problem_line(result, path, case), (
        f"expected a problem in {path} at {case['location']!r} saying {case['message']!r}; "
        f"got:\n{result.output}"
    )
    assert elapsed < SECONDS, f"took {elapsed:.1f}s to refuse"
    assert snapshot(engine) == before
    assert stored_files(run.evidence) == []


@pytest.mark.parametrize(
    "with_crashing",
    [
        pytest.param(False, id="bad-cases-that-do-not-crash"),
        pytest.param(True, id="every-bad-case"),
    ],
)
def test_good_files_with_every_bad_case_write_nothing(
    with_crashing: bool, corpus: Path, run: Cli, engine: Engine
) -> None:
    cases = [c for c in IMPORTED if with_crashing or c["path"] not in CRASHING]
    before = snapshot(engine)
    result = run("import", str(GOOD), *(str(corpus / c["path"]) for c in cases))

    assert_refused(result)
    missing = [
        c["path"]
        for c in cases
        if c["path"] not in KNOWN_BUGS and not problem_line(result, corpus / c["path"], c)
    ]
    assert missing == [], f"no expected problem reported for {missing}:\n{result.output}"
    for name in GOOD_FILES:
        assert str(GOOD / name) not in result.output  # the good files have nothing to report
    assert snapshot(engine) == before
    assert stored_files(run.evidence) == []


def test_good_files_with_every_bad_catalog_folder_write_nothing(
    corpus: Path, run: Cli, engine: Engine
) -> None:
    cases = [c for c in CASES if c["path"] in CATALOG_DIR]
    before = snapshot(engine)
    result = run("import", str(GOOD), catalog_dirs=tuple(corpus / c["path"] for c in cases))

    assert_refused(result)
    missing = [c["path"] for c in cases if not problem_line(result, corpus / c["path"], c)]
    assert missing == [], f"no expected problem reported for {missing}:\n{result.output}"
    assert snapshot(engine) == before
    assert stored_files(run.evidence) == []


def test_good_files_import_after_a_failed_import(corpus: Path, run: Cli, engine: Engine) -> None:
    bad = [str(corpus / c["path"]) for c in IMPORTED if c["path"] not in CRASHING]
    before = snapshot(engine)
    assert run("import", str(GOOD), *bad).exit_code == 1

    first = run("import", str(GOOD))
    assert first.exit_code == 0, first.output
    for name in GOOD_FILES:
        assert f"imported   {GOOD / name}" in first.output
    assert f"{len(GOOD_FILES)} imported, 0 replaced, 0 unchanged" in first.output
    assert len(stored_files(run.evidence)) == len(GOOD_FILES)  # one evidence file each
    after_first = snapshot(engine)
    assert after_first != before  # the snapshot does see an import

    again = run("import", str(GOOD))
    assert again.exit_code == 0, again.output
    for name in GOOD_FILES:
        assert f"unchanged  {GOOD / name}" in again.output
    assert f"0 imported, 0 replaced, {len(GOOD_FILES)} unchanged" in again.output
    assert snapshot(engine) == after_first


def test_oversized_file_is_refused_before_it_is_read(
    tmp_path: Path, run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "huge.yaml"
    with big.open("wb") as fh:
        fh.truncate(8 * MAX_DOCUMENT_BYTES)  # sparse: no disk used
    largest = 0
    read_bytes = Path.read_bytes

    def recording_read_bytes(self: Path) -> bytes:
        nonlocal largest
        data = read_bytes(self)
        largest = max(largest, len(data))
        return data

    monkeypatch.setattr(Path, "read_bytes", recording_read_bytes)
    result = run("import", str(big))

    assert_refused(result)
    assert f"{big}: file is larger than the limit of {MAX_DOCUMENT_BYTES} bytes" in result.output
    assert largest <= MAX_DOCUMENT_BYTES + 1, f"read {largest} bytes of an oversized file"
