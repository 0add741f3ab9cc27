"""Hostile input: fuzzing every file the engine reads, and the text its reports carry.

Targets (each with hypothesis; derandomized in `make test` so a run is reproducible, random in
`make soak`; $COMPLIANCE_FUZZ_EXAMPLES sets the number of inputs per target):

- assessment documents generated from the import schema, then perturbed (keys deleted or added,
  values replaced by wrong types, huge or odd strings, unicode, nested junk), as YAML or JSON;
- byte-level mutations (bit flips, inserted, deleted and duplicated bytes, inserted YAML/JSON
  tokens, truncation) of the example assessment files, of a catalog file, of the policy file,
  of an exported OSCAL document (and structural perturbations of its JSON), and of an audit pack;
- hostile text in every free-text field of an assessment, rendered as HTML and Excel;
- override templates (--templates) built from hostile Jinja expressions (Python internals,
  mutation of the data, huge ranges, self-inclusion, broken syntax), rendered in the sandbox;
- output paths (`-o`): ordinary, odd, through links, over planted temporary names, and onto the
  database, its side files and the evidence store;
- every text field at, just under and over its column's length, $COMPLIANCE_ACTOR included.

Properties: the command line exits 0 or 1 (the gate's 3 and 4 too), never with a traceback;
a refused import names its problems and leaves the database and the evidence store exactly as
they were; every input completes within a generous bound (a hang guard, not a benchmark);
pack verification either reports findings or succeeds only when every file's content is the
original's; report text never becomes markup, CSS, SVG or a spreadsheet formula; a template
either renders without showing Python internals or is refused naming itself, and runs nothing;
an output is written exactly where named or refused, and nothing else changes; a value over
its column's length is refused with its place on both backends, one that fits is stored. The worst
inputs within the documented limits are run in a subprocess whose time and peak memory are
measured.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, MetaData, select

from compliance import catalogs, policy
from compliance.documents import MAX_ALIASES, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_NODES
from compliance.errors import ComplianceError, InvalidInput
from compliance.pack import verify_pack
from compliance.reports import model, render, xlsx
from compliance.resources import mappings_dir
from compliance.store import catalog_store, db
from tests import factories
from tests.conftest import Cli
from tests.reliability import ROOT, check_ids, env_int, record_figures

AS_OF_DAY = date(2026, 11, 30)  # the date the examples are decided at (as `make demo`)

SOAK = os.environ.get("COMPLIANCE_SOAK") == "1"
EXAMPLES = env_int("COMPLIANCE_FUZZ_EXAMPLES", 120)
HANG_GUARD = 30.0  # seconds for one input: far above what any input takes; catches hangs only
EXAMPLE_DIR = ROOT / "examples"
GOOD_DIR = Path(__file__).parent / "data" / "good"
CHECKS = check_ids()
CONTROLS = ["nist-csf-2.0/GV.OC-01", "nist-csf-2.0/PR.AA-05", "owasp-asi-2026/ASI01"]
CATALOG_TABLES = {"catalogs", "controls", "checks", "mappings"}


def fuzz_settings(examples: int = EXAMPLES) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=not SOAK,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


# ------------------------------------------------------------------------------------------
# Observing the database and the evidence store


class Snapshot:
    """Every row of every data table, and the row counts of the catalog tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta = MetaData()
        self.meta.reflect(engine)

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for name, table in sorted(self.meta.tables.items()):
                rows = conn.execute(select(table)).all()
                out[name] = (
                    len(rows)
                    if name in CATALOG_TABLES
                    else sorted(tuple(str(v) for v in r) for r in rows)
                )
        return out


def store_files(store: Path) -> set[str]:
    if not store.exists():
        return set()
    return {str(p.relative_to(store)) for p in store.rglob("*") if not p.is_dir()}


class ImportOracle:
    """Runs one input through the command line and checks what must hold whatever it is."""

    def __init__(self, run: Cli, engine: Engine) -> None:
        self.run = run
        self.snapshot = Snapshot(engine)
        self.stats: Counter[str] = Counter()
        self.slowest = 0.0

    def __call__(self, *args: str, codes: tuple[int, ...] = (0, 1), writes: bool = True) -> Any:
        before, files = self.snapshot(), store_files(self.run.evidence)
        started = time.monotonic()
        result = self.run(*args)
        elapsed = time.monotonic() - started
        self.slowest = max(self.slowest, elapsed)
        self.stats[f"exit {result.exit_code}"] += 1
        assert result.exit_code in codes, result.output
        assert "Traceback" not in result.output, result.output
        assert elapsed < HANG_GUARD, f"{args}: took {elapsed:.1f} s"
        if result.exit_code == 1 or not writes:
            if writes:
                assert "nothing was written" in result.output, result.output
            assert self.snapshot() == before, "a refused input changed the database"
            assert store_files(self.run.evidence) == files, "a refused input left files"
        else:
            assert re.search(r"\d+ imported, \d+ replaced, \d+ unchanged", result.output)
        return result

    def figures(self) -> dict[str, Any]:
        return {
            "inputs": sum(self.stats.values()),
            **dict(self.stats),
            "slowest_seconds": round(self.slowest, 3),
        }


@pytest.fixture
def oracle(run: Cli, engine: Engine) -> ImportOracle:
    return ImportOracle(run, engine)


# ------------------------------------------------------------------------------------------
# Strategies

# Any character, NUL included (refused with its place: test_nul_in_text_is_refused_with_its_place).
CHARS = st.characters()
ODD_STRINGS = [
    "",
    " ",
    "\t",
    "~",
    "null",
    "yes",
    "NO",
    "0x1F",
    "1e999",
    "-0",
    "2026-02-30",
    "2026-11-20T10:00:00",
    "../../etc/passwd",
    "/etc/hostname",
    "C:\\Windows\\win.ini",
    "evidence/../../outside.txt",
    "\u202eevil\u202c",
    "\ufeffbom",
    "\ud800",
    "https://",
    "javascript:alert(1)",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "a" * 129,
    "é" * 301,
    "👩‍💻" * 50,
    "line\nbreak",
    "&anchor",
    "*alias",
    "!!python/object:os.system",
]
texts = st.text(CHARS, max_size=30)
huge = st.sampled_from([1_000, 20_001, 100_001, 300_000]).map(lambda n: "x" * n)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**40, -(2**63), 2**64]),
    st.floats(),
    texts,
    st.sampled_from(ODD_STRINGS),
    huge,
    st.dates().map(str),
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(texts | st.integers(), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,20}", fullmatch=True)
names = st.text(CHARS, min_size=1, max_size=40).filter(lambda s: s.strip() != "")
EVIDENCE_FILES = [
    "evidence/a.txt",
    "evidence/b.md",
    "evidence/missing.txt",
    "evidence/link.txt",
    "../outside.txt",
    "/etc/hostname",
    "evidence",
    "evidence//a.txt",
    "./evidence/a.txt",
]
evidence_items = st.one_of(
    st.fixed_dictionaries(
        {"file": st.sampled_from(EVIDENCE_FILES)}, optional={"description": texts}
    ),
    st.fixed_dictionaries(
        {"url": st.from_regex(r"https?://[a-z]{1,10}\.example/\S{0,20}", fullmatch=True)},
        optional={"description": texts, "collected": st.dates().map(str)},
    ),
)


@st.composite
def results(draw: Any) -> list[dict[str, Any]]:
    targets = draw(
        st.lists(st.sampled_from(CHECKS + CONTROLS), unique=True, min_size=0, max_size=12)
    )
    out = []
    for t in targets:
        r: dict[str, Any] = {
            "control" if "/" in t else "check": t,
            "status": draw(st.sampled_from(["pass", "fail", "partial", "not_applicable"])),
        }
        if draw(st.booleans()):
            r["notes"] = draw(texts)
        if draw(st.booleans()):
            r["evidence"] = draw(st.lists(evidence_items, max_size=3))
        out.append(r)
    return out


@st.composite
def assessment_docs(draw: Any) -> dict[str, Any]:
    res = draw(results())
    checks_used = [r["check"] for r in res if "check" in r]
    deployment = {
        "id": draw(keys),
        "name": draw(names),
        "owner": draw(names),
        "model": {
            "name": draw(names),
            "version": draw(names),
            "safety_scores": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "benchmark": names,
                            "version": names,
                            "score": st.floats(0, 1),
                        }
                    ),
                    max_size=2,
                )
            ),
        },
        "autonomy": draw(st.sampled_from(["human_in_loop", "human_on_loop", "autonomous"])),
        "customer_facing": draw(st.booleans()),
    }
    optional = {
        "environment": st.sampled_from(["production", "staging"]),
        "business_process": names,
        "identity": st.fixed_dictionaries(
            {},
            optional={
                "workload_identity": names,
                "credentials": st.sampled_from(["standing", "short_lived", "per_task"]),
            },
        ),
        "tools": st.lists(
            st.fixed_dictionaries(
                {"name": names, "access": st.sampled_from(["read", "write", "execute", "admin"])}
            ),
            max_size=3,
            unique_by=lambda t: t["name"].strip(),
        ),
        "data": st.lists(
            st.sampled_from(["public", "internal", "confidential", "regulated"]), unique=True
        ),
        "authority": st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True), max_size=3),
        "audit": st.fixed_dictionaries({}, optional={"logging": names}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            deployment[key] = draw(strategy)
    acceptances = [
        {
            "check": c,
            "approved_by": draw(names),
            "justification": draw(names),
            "expires": str(draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))),
        }
        for c in draw(st.lists(st.sampled_from(checks_used or CHECKS), unique=True, max_size=2))
    ]
    return {
        "deployment": deployment,
        "assessment": {
            "id": draw(keys),
            "date": str(draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))),
            "assessor": draw(names),
            "results": res,
            "acceptances": acceptances,
        },
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def perturb(doc: Any, data: Any, max_changes: int = 3) -> tuple[Any, list[str]]:
    """Change the document in 0 to `max_changes` random places; say what was done."""
    doc = copy.deepcopy(doc)
    done = []
    # Mostly one change or more; sometimes none, so valid documents reach the writer too.
    count = data.draw(st.sampled_from([1, 2, max_changes, 0]), label="changes")
    for _ in range(count):
        paths = list(_paths(doc))
        path = paths[data.draw(st.integers(0, len(paths) - 1), label="where")]
        op = data.draw(st.sampled_from(["replace", "delete", "extra", "duplicate"]), label="op")
        if not path:
            if op == "replace":
                doc = data.draw(junk, label="value")
                done.append("replace the whole document")
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        if op == "replace":
            parent[last] = data.draw(junk, label="value")
        elif op == "delete":
            del parent[last]
        elif op == "extra" and isinstance(parent[last], dict):
            parent[last][data.draw(texts | st.integers(), label="key")] = data.draw(junk)
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        done.append(f"{op} at {path!r}")
    return doc, done


TOKENS = [
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b"&a ",
    b"*a",
    b"!!python/object/apply:os.system ['true']",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"'",
    b"\n",
    b"\r\n",
    b"\t",
    b": ",
    b"- ",
    b",",
    b"---\n",
    b"...\n",
    b"%YAML 1.1\n",
    b"<<: *a\n",
    b"9" * 400,
    b"1e999",
    b"NaN",
    b"\\u0000",
    b"\\ud800",
    b"[" * 70,
    b"{" * 70,
]


@st.composite
def mutations(draw: Any, data: bytes, tail: int = 0) -> bytes:
    """`data` with 1 to 4 byte-level changes; `tail` biases positions towards the end."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "token", "dup", "truncate"]))
        if tail and draw(st.booleans()):
            pos = max(len(out) - 1 - draw(st.integers(0, tail)), 0)
        else:
            pos = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and out:
            out[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            out[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif op == "delete" and out:
            del out[pos : pos + draw(st.integers(1, 16))]
        elif op == "token":
            out[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "dup":
            out[pos:pos] = out[pos : pos + draw(st.integers(1, 256))]
        elif op == "truncate":
            del out[pos:]
    return bytes(out)


def _dump(doc: Any, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")


def _fuzz_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "fuzz"
    (folder / "evidence").mkdir(parents=True)
    (folder / "evidence" / "a.txt").write_text("evidence a\n")
    (folder / "evidence" / "b.md").write_text("# evidence b\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    os.symlink(tmp_path / "outside.txt", folder / "evidence" / "link.txt")
    return folder


class Names:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, suffix: str) -> str:
        self.n += 1
        return f"input-{self.n:05d}{suffix}"


# ------------------------------------------------------------------------------------------
# Assessment documents


def test_documents_from_the_schema_with_perturbations(
    backend: str, oracle: ImportOracle, tmp_path: Path
) -> None:
    folder = _fuzz_folder(tmp_path)
    name = Names()

    @fuzz_settings()
    @given(doc=assessment_docs(), fmt=st.sampled_from(["yaml", "json"]), data=st.data())
    def one(doc: dict[str, Any], fmt: str, data: Any) -> None:
        doc, _changes = perturb(doc, data)
        path = folder / name(f".{fmt}")
        path.write_bytes(_dump(doc, fmt))
        oracle("import", str(path))

    one()
    record_figures(f"fuzz-schema-{backend}", oracle.figures())


@pytest.fixture
def example_copies(tmp_path: Path) -> list[Path]:
    """Copies of the example and corpus folders; each mutated file is written beside the
    original, so its evidence paths resolve as the original's do."""
    files = []
    for src in [*sorted(EXAMPLE_DIR.iterdir()), *sorted(GOOD_DIR.iterdir())]:
        if src.is_dir():
            shutil.copytree(src, tmp_path / "copies" / src.name)
            files += sorted(
                p
                for p in (tmp_path / "copies" / src.name).iterdir()
                if p.suffix in {".yaml", ".json"}
            )
    return files


def test_byte_mutations_of_valid_assessment_files(
    backend: str, oracle: ImportOracle, example_copies: list[Path]
) -> None:
    name = Names()

    @fuzz_settings()
    @given(index=st.integers(0, len(example_copies) - 1), data=st.data())
    def one(index: int, data: Any) -> None:
        source = example_copies[index]
        mutated = data.draw(mutations(source.read_bytes()))
        path = source.with_name(name(source.suffix))
        path.write_bytes(mutated)
        oracle("import", str(path))

    one()
    record_figures(f"fuzz-assessment-bytes-{backend}", oracle.figures())


# ------------------------------------------------------------------------------------------
# OSCAL documents


@pytest.fixture
def oscal_export(run: Cli, tmp_path: Path) -> Path:
    assert run("import", str(EXAMPLE_DIR / "payments-recon-agent")).exit_code == 0
    out = tmp_path / "oscal" / "results.json"
    out.parent.mkdir()
    result = run("export", "oscal", "payments-recon-agent", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_mutated_and_reshaped_oscal_documents(
    backend: str, oracle: ImportOracle, oscal_export: Path
) -> None:
    original = oscal_export.read_bytes()
    parsed = json.loads(original)
    name = Names()
    kinds: Counter[str] = Counter()

    @fuzz_settings()
    @given(structural=st.booleans(), data=st.data())
    def one(structural: bool, data: Any) -> None:
        if structural:
            doc, _ = perturb(parsed, data, max_changes=4)
            content = _dump(doc, "json")
        else:
            content = data.draw(mutations(original))
        kinds["structural" if structural else "bytes"] += 1
        path = oscal_export.with_name(name(".json"))
        path.write_bytes(content)
        oracle("import", str(path))

    one()
    record_figures(f"fuzz-oscal-{backend}", {**oracle.figures(), **kinds})


# ------------------------------------------------------------------------------------------
# Catalog and policy files

CATALOG = mappings_dir() / "catalogs" / "owasp-asi-2026.yaml"
POLICY = mappings_dir() / "policy.yaml"
# The baseline under an id of its own: a file claiming the baseline's id and version with other
# content is refused outright (catalog_store.refuse_baseline_impostor), which mutations of the
# baseline itself would almost always be.
OWN_POLICY = POLICY.read_bytes().replace(b"id: baseline-policy", b"id: fuzzed-policy", 1)
ORG_CATALOG = b"""\
schema: compliance-catalog/1
framework: {id: acme-ai-policy, name: ACME AI policy, version: "1"}
catalog: {revision: 1}
source: {publisher: ACME, title: ACME AI policy, license: internal}
controls:
  - {ref: AP, kind: policy, title: AI policy, assessable: false}
  - {ref: AP-1, kind: rule, parent: AP, title: Owners named, assessable: true}
  - {ref: AP-2, kind: rule, parent: AP, title: No standing keys, assessable: true}
"""
ORG_MAPPINGS = b"""\
schema: compliance-mappings/1
id: acme-mappings
name: Baseline checks to the ACME AI policy
version: "1"
mappings:
  - {check: GOV-01, control: acme-ai-policy/AP-1, relationship: equal, rationale: Same rule.}
  - {check: IDN-02, control: acme-ai-policy/AP-2, relationship: equal, rationale: Same rule.}
"""


def _only_invalid_input(fn: Callable[[], Any]) -> str:
    started = time.monotonic()
    try:
        fn()
        outcome = "accepted"
    except InvalidInput:
        outcome = "refused"
    assert time.monotonic() - started < HANG_GUARD
    return outcome


def test_byte_mutations_of_catalog_mapping_and_policy_files() -> None:
    """The parsers and schemas alone (no database): only InvalidInput, ever."""
    sources = {
        "catalog": CATALOG.read_bytes(),
        "org-catalog": ORG_CATALOG,
        "org-mappings": ORG_MAPPINGS,
        "policy": POLICY.read_bytes(),
    }
    known = set(CHECKS)
    stats: Counter[str] = Counter()

    @fuzz_settings(EXAMPLES * 3)
    @given(kind=st.sampled_from(sorted(sources)), data=st.data())
    def one(kind: str, data: Any) -> None:
        raw = data.draw(mutations(sources[kind]))
        label = "policy.yaml" if kind == "policy" else f"{kind}.yaml"
        file = catalogs.DataFile(Path(label), label, raw, "organisation")
        if kind == "policy":
            outcome = _only_invalid_input(lambda: policy.parse_policy(file, known))
        else:
            outcome = _only_invalid_input(lambda: catalogs.validate_files([file]))
        stats[f"{kind} {outcome}"] += 1

    one()
    record_figures("fuzz-catalog-policy-parsers", {"inputs": sum(stats.values()), **stats})


def test_mutated_organisation_catalogs_and_policies_through_the_cli(
    backend: str, oracle: ImportOracle, tmp_path: Path
) -> None:
    """An organisation folder with a mutated catalog (`catalogs list` loads it into the database
    when valid) and a mutated `gate --policy` file: exit codes only, no traceback."""
    assert oracle.run("import", str(EXAMPLE_DIR / "kb-search-assistant")).exit_code == 0
    name = Names()
    stats: Counter[str] = Counter()

    @fuzz_settings(max(EXAMPLES // 10, 6))
    @given(which=st.sampled_from(["catalog", "policy"]), data=st.data())
    def one(which: str, data: Any) -> None:
        if which == "catalog":
            folder = tmp_path / name("")
            folder.mkdir()
            (folder / "catalog.yaml").write_bytes(data.draw(mutations(ORG_CATALOG)))
            (folder / "mappings.yaml").write_bytes(ORG_MAPPINGS)
            before = oracle.snapshot()
            started = time.monotonic()
            result = oracle.run("catalogs", "list", catalog_dirs=(folder,))
            assert time.monotonic() - started < HANG_GUARD
            assert result.exit_code in (0, 1) and "Traceback" not in result.output
            if result.exit_code == 1:
                assert oracle.snapshot() == before
        else:
            path = tmp_path / name(".yaml")
            path.write_bytes(data.draw(mutations(OWN_POLICY)))
            started = time.monotonic()
            result = oracle.run("gate", "kb-search-assistant", "--policy", str(path))
            assert time.monotonic() - started < HANG_GUARD
            assert result.exit_code in (0, 1, 3, 4) and "Traceback" not in result.output
        stats[f"{which} exit {result.exit_code}"] += 1

    one()
    record_figures(f"fuzz-catalog-policy-cli-{backend}", {"inputs": sum(stats.values()), **stats})


# ------------------------------------------------------------------------------------------
# Audit packs


def _contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


@pytest.fixture(scope="module")
def small_pack(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """One audit pack for the module (verifying a pack does not touch a database)."""
    folder = tmp_path_factory.mktemp("pack")
    shutil.copyfile(sqlite_template, folder / "compliance.db")
    run = Cli(f"sqlite:///{folder / 'compliance.db'}", folder / "store")
    assert run("import", str(EXAMPLE_DIR / "kb-search-assistant")).exit_code == 0
    out = folder / "pack.zip"
    result = run(
        "pack",
        "--include-drafts",
        "--deployment",
        "kb-search-assistant",
        "--framework",
        "owasp-asi-2026",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    return out


def test_mutated_audit_packs(small_pack: Path, tmp_path: Path) -> None:
    original = small_pack.read_bytes()
    contents = _contents(small_pack)
    target = tmp_path / "mutated.zip"
    stats: Counter[str] = Counter()

    @fuzz_settings(EXAMPLES * 4)
    @given(data=st.data())
    def one(data: Any) -> None:
        mutated = data.draw(mutations(original, tail=4096))
        target.write_bytes(mutated)
        started = time.monotonic()
        report = verify_pack(target)  # any exception fails the test
        assert time.monotonic() - started < HANG_GUARD
        if report.ok:
            # Only a change outside every file's content (zip metadata) can leave a pack valid.
            assert _contents(target) == contents
            stats["ok, content unchanged" if mutated != original else "ok, unchanged"] += 1
        else:
            stats["findings"] += 1

    one()
    record_figures("fuzz-pack", {"inputs": sum(stats.values()), **stats})


def _central_record(data: bytes, name: str) -> int:
    """Offset of an entry's record in the zip's central directory."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        pos = zf.start_dir
        for info in zf.infolist():
            if info.filename == name:
                return pos
            pos += 46 + len(info.filename.encode()) + len(info.extra) + len(info.comment)
    raise KeyError(name)


def _corrupt(data: bytes, entry: str, how: str) -> bytes:
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(entry)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    record = _central_record(data, entry)
    if how == "deflate data":
        out[start] ^= 0xFF
    elif how == "CRC":  # a byte of the data changed, the deflate stream still valid
        out[start + info.compress_size // 2] ^= 0xFF
    elif how == "version needed to extract":
        out[record + 6 : record + 8] = (64).to_bytes(2, "little")
    elif how == "encrypted flag":
        out[record + 8] |= 0x01
    elif how == "local header offset":
        offset = int.from_bytes(out[record + 42 : record + 46], "little") + 1
        out[record + 42 : record + 46] = offset.to_bytes(4, "little")
    return bytes(out)


CORRUPTIONS = {
    "deflate data of a report": ("reports/summary.pdf", "deflate data"),
    "deflate data of SHA256SUMS": ("SHA256SUMS", "deflate data"),
    "CRC of SHA256SUMS": ("SHA256SUMS", "CRC"),
    "deflate data of manifest.json": ("manifest.json", "deflate data"),
    "version needed to extract a report": ("reports/summary.pdf", "version needed to extract"),
    "encrypted flag on SHA256SUMS": ("SHA256SUMS", "encrypted flag"),
    "local header offset of manifest.json": ("manifest.json", "local header offset"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_pack_data_is_a_finding_not_a_crash(
    corruption: str, small_pack: Path, tmp_path: Path
) -> None:
    """Found by the pack fuzz test: zipfile's errors on a damaged archive (bad CRC, corrupt
    deflate data, bad offset, encrypted or unsupported entry) escaped verify_pack as a
    traceback. Each is an 'unsafe' finding, and the command exits 1."""
    entry, how = CORRUPTIONS[corruption]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_corrupt(small_pack.read_bytes(), entry, how))
    report = verify_pack(bad)
    assert not report.ok
    assert any(f.kind == "unsafe" for f in report.findings), report.findings
    result = Cli("sqlite://", tmp_path)("pack", "verify", str(bad))
    assert result.exit_code == 1 and "Traceback" not in result.output


# ------------------------------------------------------------------------------------------
# NUL in text


def test_nul_in_text_is_refused_with_its_place(backend: str, run: Cli, tmp_path: Path) -> None:
    """Found by fuzzing: a NUL inside a text value passed validation; SQLite stored it and
    PostgreSQL refused the INSERT with a database error and the SQL statement. It is refused
    before anything is written, with its file and place, on both backends."""
    doc = factories.assessment_doc()
    doc["assessment"]["results"][0]["notes"] = "before\x00after"
    path = factories.write(tmp_path / "nul", doc, "assessment.json")
    result = run("import", str(path))
    assert result.exit_code == 1, result.output
    assert f"{path}: assessment.results[0].notes:" in result.output
    assert "nothing was written" in result.output and "[SQL:" not in result.output


# ------------------------------------------------------------------------------------------
# Report text is never interpreted


class _Structure(HTMLParser):
    """The markup of a page: every tag with its attribute names, and what its CSS can load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.css = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(a for a, _v in attrs))))
        self._in_style = tag == "style"
        self.css += " ".join(v or "" for a, v in attrs if a == "style")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css += data


def _structure(html: str) -> tuple[list[tuple[str, tuple[str, ...]]], dict[str, int]]:
    parser = _Structure()
    parser.feed(html)
    loads = {k: parser.css.lower().count(k) for k in ("url(", "@import", "expression(")}
    return parser.tags, loads


PAYLOAD_PARTS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</style><style>@import url(https://evil.example/x.css);</style>",
    "body { background: url(https://evil.example/bg) }",
    '"><svg onload=alert(1)><image href="https://evil.example/i"/></svg>',
    "<![CDATA[<x>]]>",
    "<!-- -->",
    "&lt;already escaped&gt;",
    "{{ 7*7 }}",
    "{% raw %}",
    '=HYPERLINK("https://evil.example")',
    "@SUM(A1)",
    "+1",
    "-1+1",
    "javascript:alert(1)",
    "'\"`",
]
payloads = (
    st.lists(st.sampled_from(PAYLOAD_PARTS) | st.text(CHARS, max_size=12), min_size=1, max_size=4)
    .map("".join)
    .filter(lambda s: s.strip() == s and s != "")
)


def _hostile_doc(text: str) -> dict[str, Any]:
    results = factories.results(factories.LOW_REQUIRED)
    results[0].update(status="fail", notes=text)
    results[1]["evidence"] = [
        {"url": "https://wiki.example.com/" + re.sub(r"\s", "", text), "description": text}
    ]
    results.append({"control": "nist-csf-2.0/GV.OC-01", "status": "partial", "notes": text})
    doc = factories.assessment_doc(
        results_list=results,
        deployment_overrides={"name": text, "owner": text, "business_process": text},
        assessor=text,
        acceptances=[
            {
                "check": factories.LOW_REQUIRED[0],
                "approved_by": "Approver " + text,  # the approver is never the assessor
                "justification": text,
                "expires": "2027-01-31",
            }
        ],
    )
    return doc


def _render_all(engine: Engine) -> dict[str, str]:
    with db.transaction(engine) as s:
        pol = catalog_store.current_policy(s)
        reports = {
            "gap": model.gap_report(s, "test-agent", None, AS_OF_DAY, pol),
            "summary": model.summary_report(s, AS_OF_DAY, pol),
            "evidence": model.evidence_report(s, "nist-csf-2.0", None, AS_OF_DAY, policy=pol),
        }
    return {kind: render.render_html(r) for kind, r in reports.items()}


def test_report_text_is_never_interpreted(
    backend: str, run: Cli, engine: Engine, tmp_path: Path
) -> None:
    """Hostile text in every free-text field: the HTML of the gap, summary and evidence reports
    has exactly the markup and CSS of the same reports with plain text, and the text is there,
    escaped."""
    name = Names()
    benign = "Plain text"
    assert run("import", str(factories.write(tmp_path / "b", _hostile_doc(benign)))).exit_code == 0
    baseline = {k: _structure(v) for k, v in _render_all(engine).items()}
    count = Counter[str]()

    @fuzz_settings(max(EXAMPLES // 10, 6))
    @given(text=payloads)
    def one(text: str) -> None:
        folder = tmp_path / name("")
        result = run("import", str(factories.write(folder, _hostile_doc(text))))
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:  # e.g. text too long for a name: refused, nothing to render
            count["refused"] += 1
            return
        for kind, html in _render_all(engine).items():
            assert _structure(html) == baseline[kind], (kind, text)
            assert str(escape(text)) in html, (kind, text)
        count["rendered"] += 1

    one()
    record_figures(f"fuzz-report-text-{backend}", {"inputs": sum(count.values()), **count})


@fuzz_settings(EXAMPLES)
@given(
    text=st.tuples(
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", " =", "\n="]), st.text(CHARS)
    ).map("".join)
)
def test_spreadsheet_text_never_becomes_a_formula(text: str, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("xlsx") / "t.xlsx"
    wb = Workbook(write_only=True)
    xlsx.write_table(wb, "T", [xlsx.Col("Text")], [[text]])
    wb.save(path)
    cell = load_workbook(path)["T"]["A2"]
    assert cell.data_type == "s", (text, cell.value)
    assert not str(cell.value).startswith("=") or cell.quotePrefix


# ------------------------------------------------------------------------------------------
# Templates: an override (--templates) runs in the sandbox, whatever it holds

# Expressions a hostile template tries, and ordinary ones around them.
TEMPLATE_REACHES = [
    "cycler.__init__.__globals__.os.popen('touch {marker}').read()",
    "joiner.__init__.__globals__['os'].system('touch {marker}')",
    "namespace.__init__.__globals__",
    "lipsum.__globals__['os'].popen('touch {marker}')",
    "self.__init__.__globals__.__builtins__",
    "self._TemplateReference__context",
    "''.__class__.__mro__[1].__subclasses__()",
    "().__class__.__base__.__subclasses__()",
    "report.__class__",
    "report|attr('__class__')",
    "report.items.__self__.__class__",
    "'{{0.__class__}}'.format(report)",
    "'%s'|format(report.__class__)",
    "report.update({{'kind': 'x'}})",
    "report.pop('kind')",
    "report.setdefault('x', 1)",
    "[].append(1)",
    "range(10 ** 9)|list|length",
    "config",
    "request",
    "get_flashed_messages()",
    "url_for.__globals__",
    "undefined_name",
    "report.no_such_key",
]
TEMPLATE_PLAIN = [
    "report.kind",
    "report.title|upper",
    "report.deployment.name",
    "report.decision.blockers|length",
    "range(3)|list",
    "'text'|length",
    "'%.2f'|format(0.5)",
    "'{{}}-{{}}'.format('a', 1)",
    "logo",
    "overrides_notice",
]
TEMPLATE_SHAPES = [
    "{{{{ {e} }}}}",
    "{{% set x = {e} %}}{{{{ x }}}}",
    "{{% for i in range(2) %}}{{{{ {e} }}}}{{% endfor %}}",
    "{{% if {e} %}}yes{{% endif %}}",
    '{{% extends "base.html" %}}{{% block body %}}{{{{ {e} }}}}{{% endblock %}}',
    '{{% include "gap.html" %}}',
    '{{% import "_macros.html" as m %}}{{{{ {e} }}}}',
    "{{{{ {e}",
    "{{% for %}}",
]
INTERNALS = ("<class ", "<function ", "<built-in", "<module ", "<bound method", "<frame ")


@pytest.fixture(scope="module")
def gap_model(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Any]:
    """One gap report's view model (rendering it does not touch a database)."""
    folder = tmp_path_factory.mktemp("model")
    shutil.copyfile(sqlite_template, folder / "compliance.db")
    url = f"sqlite:///{folder / 'compliance.db'}"
    assert (
        Cli(url, folder / "store")("import", str(EXAMPLE_DIR / "kb-search-assistant")).exit_code
        == 0
    )
    engine = db.make_engine(url)
    try:
        with db.snapshot(engine) as s:
            return model.gap_report(
                s, "kb-search-assistant", None, AS_OF_DAY, catalog_store.current_policy(s)
            )
    finally:
        engine.dispose()


def test_hostile_template_overrides_stay_in_the_sandbox(
    gap_model: dict[str, Any], tmp_path: Path
) -> None:
    """Override templates built from hostile expressions: rendering succeeds without showing
    any Python internals, or fails with a ComplianceError naming the template; nothing runs."""
    marker = tmp_path / "ran"
    name = Names()
    stats: Counter[str] = Counter()

    @fuzz_settings(EXAMPLES)
    @given(
        shape=st.sampled_from(TEMPLATE_SHAPES),
        reach=st.sampled_from(TEMPLATE_REACHES) | st.sampled_from(TEMPLATE_PLAIN),
        target=st.sampled_from(["gap.html", "base.html", "_macros.html"]),
        tail=st.text(CHARS, max_size=20),
    )
    def one(shape: str, reach: str, target: str, tail: str) -> None:
        folder = tmp_path / name("")
        folder.mkdir()
        source = shape.format(e=reach.format(marker=marker)) + tail
        (folder / target).write_text(source, encoding="utf-8", errors="surrogatepass")
        started = time.monotonic()
        try:
            html = render.render_html(gap_model, folder)
            assert not any(mark in html for mark in INTERNALS), (source, html[:2000])
            assert "custom templates: " in html
            stats["rendered"] += 1
        except ComplianceError as exc:
            assert str(exc).startswith(("template ", "templates folder ")), exc
            stats["refused"] += 1
        assert time.monotonic() - started < HANG_GUARD
        assert not marker.exists(), source
        assert gap_model["kind"] == "gap"  # the model is not changed by a template

    one()
    record_figures("fuzz-templates", {"inputs": sum(stats.values()), **stats})


# ------------------------------------------------------------------------------------------
# Output paths: `-o` never replaces what it must not, never follows a planted link


def _output_targets(run: Cli, base: Path) -> dict[str, tuple[Path, bool]]:
    """Named output paths, each with whether writing there is allowed."""
    blob = next(p for p in run.evidence.rglob("*") if p.is_file() and p.parent != run.evidence)
    victim = base / "victim.txt"
    out: dict[str, tuple[Path, bool]] = {
        "new file": (base / "new.json", True),
        "new file in new folders": (base / "a" / "b" / "new.json", True),
        "existing file": (base / "existing.json", True),
        "odd name": (base / "spa ce\nline é 👩‍💻.json", True),
        "link to a file elsewhere": (base / "link.json", True),
        "dangling link": (base / "dangling.json", True),
        "planted temporary names": (base / "planted" / "out.json", True),
        "a blob": (blob, False),
        "into the store": (run.evidence / "x.json", False),
        "into the store, new folder": (run.evidence / "zz" / "x.json", False),
        "link into the store": (base / "to-store.json", False),
        "a folder": (base, False),
    }
    victim.write_text("precious")
    (base / "existing.json").write_text("old")
    for link, to in (("link.json", victim), ("dangling.json", base / "nowhere"),
                     ("to-store.json", blob)):  # fmt: skip
        if not (base / link).is_symlink():
            os.symlink(to, base / link)
    (base / "planted").mkdir(exist_ok=True)
    for planted in (".out.json.partial", ".out.json.tmp"):
        if not (base / "planted" / planted).is_symlink():
            os.symlink(victim, base / "planted" / planted)
    if run.url.startswith("sqlite:///"):
        database = Path(run.url.removeprefix("sqlite:///"))
        out["the database"] = (database, False)
        for suffix in ("-wal", "-shm", "-journal"):
            out[f"the database{suffix}"] = (database.with_name(database.name + suffix), False)
        if not (base / "to-db").is_symlink():
            os.symlink(database, base / "to-db")
        out["link to the database"] = (base / "to-db", False)
    return out


def test_output_paths(backend: str, run: Cli, engine: Engine, tmp_path: Path) -> None:
    """`export oscal -o` to paths drawn from the ordinary, the odd and the protected: it
    writes exactly the target (a link there is replaced, not followed) or refuses; the
    database, the store and every other file are unchanged; no temporary file is left."""
    from tests.test_import_corpus import snapshot

    assert run("import", str(EXAMPLE_DIR / "kb-search-assistant")).exit_code == 0
    base = tmp_path / "out"
    base.mkdir()
    targets = _output_targets(run, base)
    rows, blobs = snapshot(engine), store_files(run.evidence)
    victim = base / "victim.txt"
    stats: Counter[str] = Counter()

    @fuzz_settings(max(EXAMPLES // 4, len(targets)))
    @given(which=st.sampled_from(sorted(targets)))
    def one(which: str) -> None:
        target, allowed = targets[which]
        result = run("export", "oscal", "kb-search-assistant", "-o", str(target))
        assert "Traceback" not in result.output
        if allowed:
            assert result.exit_code == 0, (which, result.output)
            assert not target.is_symlink() and json.loads(target.read_text())["assessment-results"]
            stats["written"] += 1
        else:
            assert result.exit_code in (1, 2), (which, result.output)
            assert "refusing to write" in result.output or "is a directory" in result.output
            stats["refused"] += 1
        assert victim.read_text() == "precious", which
        assert snapshot(engine) == rows and store_files(run.evidence) == blobs, which
        leftovers = [p for p in base.rglob(".*") if not p.is_symlink()]
        assert leftovers == [], (which, leftovers)

    one()
    record_figures(f"fuzz-output-paths-{backend}", {"inputs": sum(stats.values()), **stats})


# ------------------------------------------------------------------------------------------
# Limits: every text field at, just under and over its column's length, on both backends

# (where the text goes in an assessment file, the table and column it is stored in)
LIMITED_FIELDS = [
    ("deployment.id", "deployments", "key"),
    ("deployment.name", "deployments", "name"),
    ("deployment.owner", "deployments", "owner"),
    ("deployment.environment", "deployments", "environment"),
    ("deployment.business_process", "deployments", "business_process"),
    ("deployment.model.name", "assessments", "model_name"),
    ("deployment.model.version", "assessments", "model_version"),
    ("deployment.identity.workload_identity", "assessments", "workload_identity"),
    ("deployment.audit.logging", "assessments", "audit_logging"),
    ("deployment.model.safety_scores[0].benchmark", "safety_scores", "benchmark"),
    ("deployment.model.safety_scores[0].version", "safety_scores", "version"),
    ("assessment.id", "assessments", "key"),
    ("assessment.assessor", "assessments", "assessor"),
    ("assessment.acceptances[0].approved_by", "risk_acceptances", "approved_by"),
    ("assessment.results[1].evidence[0].url", "evidence", "url"),
    ("COMPLIANCE_ACTOR", "audit_events", "actor"),
]


def _set(doc: dict[str, Any], place: str, value: Any) -> None:
    parts = [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", place) if p]
    target: Any = doc
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def test_text_at_and_over_every_limit(
    backend: str, oracle: ImportOracle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value of the column's length imports; one character more is refused before the
    database, with its file and place, on both backends (never a raw SQL error)."""
    from compliance import limits

    name = Names()
    stats: Counter[str] = Counter()

    @fuzz_settings(max(EXAMPLES // 2, len(LIMITED_FIELDS) * 2))
    @given(
        field=st.sampled_from(LIMITED_FIELDS),
        delta=st.sampled_from([-1, 0, 0, 1, 1]) | st.integers(2, 5_000),
        char=st.sampled_from(["a", "Z", "7", "é", "漢", "👩"]),
    )
    def one(field: tuple[str, str, str], delta: int, char: str) -> None:
        place, table, column = field
        limit = limits.max_length(table, column)
        assert limit is not None, field
        length = limit + delta
        text = char * length
        if place.endswith(".url"):
            text = ("https://e.example/" + char * length)[:length]
        if place.endswith(("deployment.id", "assessment.id")):
            text = text.replace(char, "a") if not char.isascii() or not char.isalnum() else text
        doc = factories.assessment_doc(
            deployment_overrides={"id": name("").replace("input", "limit")},
            acceptances=[
                {
                    "check": "GOV-01",
                    "approved_by": "x",
                    "justification": "y",
                    "expires": "2027-01-31",
                }
            ],
        )
        doc["assessment"]["results"][1]["evidence"] = [{"url": "https://e.example/x"}]
        doc["assessment"]["id"] = name("")
        if place == "COMPLIANCE_ACTOR":
            monkeypatch.setenv("COMPLIANCE_ACTOR", text)
        else:
            monkeypatch.delenv("COMPLIANCE_ACTOR", raising=False)
            _set(doc, place, text)
        path = factories.write(tmp_path / name(""), doc)
        result = oracle("import", str(path))
        assert "[SQL:" not in result.output
        if length <= limit:
            assert result.exit_code == 0, (field, length, result.output[-2000:])
            stats["imported"] += 1
        else:
            assert result.exit_code == 1, (field, length, result.output[-2000:])
            where = "COMPLIANCE_ACTOR" if place == "COMPLIANCE_ACTOR" else f"{path}: {place}"
            assert where in result.output, (field, result.output[-2000:])
            stats["refused"] += 1

    one()
    record_figures(f"fuzz-limits-{backend}", {"inputs": sum(stats.values()), **stats})


# ------------------------------------------------------------------------------------------
# Bounded time and memory for the worst inputs within the documented limits


def _worst_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        out[name] = folder / name
        out[name].write_bytes(data)

    base = factories.assessment_doc()
    # A file just under the size limit, all of it parsed (one unknown key, refused by the schema).
    head = _dump(base, "yaml")
    put("max-size.yaml", head + b"x: '" + b"y" * (MAX_DOCUMENT_BYTES - len(head) - 10) + b"'\n")
    # Just under the most values a document may hold (JSON), and a YAML alias tree that would
    # expand to 10 million (refused while it is measured); nesting far beyond the limit.
    values = json.dumps({**base, "extra": [0] * (MAX_NODES - 200)}).encode()
    put("max-values.json", values)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    put("alias-bomb.yaml", ("\n".join(levels) + "\n").encode())
    put("over-depth.yaml", ("[" * 5000 + "]" * 5000).encode())
    # The largest valid assessment: every check and 500 URL evidence items on each result.
    big = factories.assessment_doc(
        results_list=[
            {
                "check": c,
                "status": "pass",
                "notes": "n" * 1000,
                "evidence": [{"url": f"https://e.example/{c}/{i}"} for i in range(500)],
            }
            for c in CHECKS
        ],
        deployment_overrides={"id": "largest-valid"},
    )
    put("largest-valid.json", json.dumps(big).encode())
    return out


# The command line, reporting its own peak resident memory (VmHWM: the high-water mark of this
# process image, which a fork's copy of the test process does not inflate) when it exits.
MEASURED_CLI = """\
import atexit, os, sys
def _peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["PEAK_FILE"], "w").write(line.split()[1])
atexit.register(_peak)
from compliance.cli.main import main
sys.argv[0] = "compliance"
main()
"""


def _measured(args: list[str], peak_file: Path) -> tuple[int, float, int, str]:
    """Run the command line; return its exit code, seconds, peak memory (MiB) and output."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PEAK_FILE": str(peak_file)},
        check=False,
    )
    seconds = time.monotonic() - started
    peak = int(peak_file.read_text()) // 1024
    return proc.returncode, seconds, peak, proc.stdout.decode(errors="replace")


def test_worst_inputs_within_the_limits_are_bounded(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    cli = ["--db", db_url, "--evidence-dir", str(tmp_path / "store")]
    peak_file = tmp_path / "peak"
    code, _s, idle, _o = _measured([*cli, "audit", "verify"], peak_file)
    assert code == 0
    figures: dict[str, Any] = {"baseline_command_peak_mib": idle}
    for label, path in _worst_inputs(tmp_path / "worst").items():
        code, seconds, peak, output = _measured([*cli, "import", str(path)], peak_file)
        assert "Traceback" not in output, output
        assert code == (0 if label == "largest-valid.json" else 1), (label, output[-2000:])
        assert seconds < 120, f"{label}: {seconds:.1f} s"  # hang guard
        assert peak < 2048, f"{label}: peak {peak} MiB"  # a guard against unbounded memory
        figures[label] = {"exit": code, "seconds": round(seconds, 2), "peak_mib": peak}
    record_figures(f"worst-inputs-{backend}", figures)


def test_limits_quoted_in_the_documentation_are_the_code_s() -> None:
    from compliance import evidence, pack, sshsig, zipread

    doc = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    for value in (
        f"{MAX_DOCUMENT_BYTES:,}",
        f"{MAX_DEPTH}",
        f"{MAX_ALIASES:,}",
        f"{MAX_NODES:,}",
        f"{evidence.MAX_EVIDENCE_BYTES:,}",
        f"{pack.MAX_ENTRIES:,}",
        f"{pack.MAX_ENTRY_BYTES:,}",
        f"{pack.MAX_TOTAL_BYTES:,}",
        f"{pack.MAX_RATIO}:1",
        f"{zipread.MAX_CENTRAL_DIRECTORY:,}",
        f"{sshsig.MAX_SIGNATURE_BYTES:,}",
    ):
        assert value in doc, f"docs/RELIABILITY.md does not quote {value}"
