"""The YAML reader (libyaml composing, bounds checked on the node graph, values built after) gives
what the pure-Python reader it replaced gave: the same values for every document it accepted, the
same message and place for every document it refused, with every bound kept. The one change is
deliberate: YAML merge keys (`<<: *base`) are supported, within the same bounds.

`tests/legacy_documents.py` is the old reader, verbatim, kept as the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance import documents
from compliance.documents import MAX_ALIASES, MAX_DEPTH, MAX_NODES, parse_document
from compliance.errors import InvalidInput
from tests import legacy_documents

ROOT = Path(__file__).resolve().parent.parent
# The same generated documents every run of `make test`; `make soak` draws new ones.
SOAK = os.environ.get("COMPLIANCE_SOAK") == "1"


def examples(n: int) -> Any:
    return settings(
        max_examples=n * (10 if SOAK else 1),
        deadline=None,
        derandomize=not SOAK,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def outcome(parse: Any, data: bytes, name: str = "doc.yaml") -> tuple[str, Any]:
    """("value", the value) or ("refused", (location, message)) of one parse."""
    try:
        return "value", parse(data, name)
    except InvalidInput as exc:
        (problem,) = exc.problems
        assert problem.file == name
        return "refused", (problem.location, problem.message)


def legacy_outcome(data: bytes, name: str = "doc.yaml") -> tuple[str, Any]:
    try:
        return outcome(legacy_documents.parse_document, data, name)
    except (
        TypeError,
        AttributeError,
        KeyError,
    ) as exc:  # the old reader's bugs: a traceback, not a message
        return "crashed", repr(exc)


def same_as_before(data: bytes, name: str = "doc.yaml") -> tuple[str, Any]:
    new = outcome(parse_document, data, name)
    old = legacy_outcome(data, name)
    if old[0] == "crashed":
        assert new[0] == "refused", (data[:300], new, old)
    else:
        assert new == old, (data[:300], new, old)
    return new


def test_libyaml_composes_when_installed() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: imports are ten times slower"
    assert documents._Composer is yaml.CSafeLoader


# Every YAML file the project ships or tests with --------------------------------------------

SHIPPED = sorted(
    p
    for folder in ("examples", "mappings", "tests/data", "templates")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in {".yaml", ".yml"} and p.is_file() and not p.is_symlink()
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_yaml_file_reads_as_before(path: Path) -> None:
    same_as_before(path.read_bytes(), path.name)


def test_the_shipped_files_include_the_bad_corpus() -> None:
    assert len([p for p in SHIPPED if "bad" in p.parts]) >= 60


# Hand-written cases: every bound, every tag, every error the reader names ----------------------


def _alias_tree(levels: int, width: int) -> str:
    lines = ["a0: &a0 [x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _nested(levels: int, inner: str = "1") -> str:
    """A mapping holding lists down to `inner` at depth `levels` (the mapping is at depth 1)."""
    return "a: " + "[" * (levels - 2) + inner + "]" * (levels - 2) + "\n"


CASES: dict[str, str] = {
    "plain": "a: 1\nb: [x, 'y', \"z\"]\nc: {d: null, e: ~, f: true, g: 1.5, h: 2026-01-31}\n",
    "scalars": (
        "i: [0x1F, 0o17, 017, -12, +3, 1_000, 190:20:30, 0b101]\n"
        "f: [.inf, -.Inf, .nan, 1e3, 6.8523015e+5, 685.230_15e+03, 190:20:30.15]\n"
        "b: [yes, No, on, OFF, y, n, True]\n"
        "t: [2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10, 2002-12-14]\n"
        "s: [ '2026-01-01', \"1\", '', ' ', 'null', notes, y2k, .x, +x, -x, ~x]\n"
    ),
    "block-text": "a: |\n  one\n  two\nb: >-\n  folded\n  text\nc: 'it''s'\nd: \"tab\\tand \\u00e9\"\n",
    "unicode": 'name: café — ünïcode ✓\nkey-é: "\\u2603"\n',
    "bom": "\ufeffa: 1\n",
    "empty-collections": "a: []\nb: {}\nc: [[], {}]\n",
    "tags": (
        "a: !!str 42\nb: !!int '42'\nc: !!float '1'\nd: !!bool 'true'\ne: !!null ''\n"
        "f: !!binary aGVsbG8=\ng: !!timestamp 2026-01-01\nh: !!seq [1]\ni: !!map {x: 1}\n"
    ),
    "set-omap-pairs": (
        "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\np: !!pairs [{a: 1}, {a: 2}]\n"
    ),
    "anchors": "base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: [*b, *b]\ns: &s text\nt: *s\n",
    "anchor-on-key": "? &k key\n: 1\nother: *k\n",
    "complex-key-list": "? [a, b]\n: 1\n",
    "complex-key-map": "? {a: 1}\n: 1\n",
    "complex-key-set": "? !!set {a}\n: 1\n",
    "non-string-keys": "1: a\n2.5: b\ntrue: c\nnull: d\n2026-01-01: e\n",
    "duplicate": "a: 1\nb:\n  c: 2\n  d: 3\n  c: 4\n",
    "duplicate-equal-values": "1: a\n1.0: b\n",
    "duplicate-bool-int": "true: a\n1: b\n",
    "duplicate-in-flow": "a: {x: 1, y: 2, x: 3}\n",
    "duplicate-after-unhashable": "? [a]\n: 1\nb: 2\nb: 3\n",
    "duplicate-key-then-bad-value": "a: 2026-13-01\nb: 1\nb: 2\n",
    "duplicate-in-set": "s: !!set {a, b, a}\n",
    "python-tag": "a: !!python/object/apply:os.system ['echo']\n",
    "python-name": "a: !!python/name:os.system\n",
    "custom-tag": "a: !custom 1\n",
    "custom-tag-map": "a: !custom {b: 1}\n",
    "tag-directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!thing 1\n",
    "value-key": "=: 1\n",
    "value-scalar": "a: =\n",
    "month-13": "date: 2026-13-01\n",
    "huge-int": "a: " + "9" * 5000 + "\n",
    "bad-int-tag": "a: !!int 'twelve'\n",
    "bad-float-tag": "a: !!float 'x'\n",
    "bad-binary": "a: !!binary '!!!'\n",
    "str-tag-on-list": "a: !!str [1]\n",
    "map-tag-on-list": "a: !!map [1]\n",
    "seq-tag-on-map": "a: !!seq {b: 1}\n",
    "omap-not-list": "a: !!omap {b: 1}\n",
    "nul-escape": 'a:\n  b: "x\\0y"\n',
    "nul-in-key": '"k\\0": 1\n',
    "nul-single-quoted": "a: [1, '\\0']\n",
    "control-char": 'a: "\x01"\n',
    "tab-indent": "a:\n\tb: 1\n",
    "unclosed": "a: [1, 2\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "explicit-end": "a: 1\n...\n",
    "only-comments": "# nothing\n",
    "only-directive": "%YAML 1.1\n---\n",
    "undefined-alias": "a: *nope\n",
    "recursive-list": "a: &a [1, *a]\n",
    "recursive-map": "a: &a {b: *a}\n",
    "recursive-root": "&r [*r]\n",
    "alias-bomb": _alias_tree(10, 10),
    "alias-tree-within": _alias_tree(5, 10),  # 11,111 values: fine
    # 999 aliases (within the limit) of a list of 1,100: 1.1 million values.
    "alias-tree-just-over": f"a0: &a0 [{', '.join(['x'] * 1100)}]\na1: [{', '.join(['*a0'] * 999)}]\n",
    "aliases-at-limit": "a: &a x\nb: [" + ", ".join(["*a"] * MAX_ALIASES) + "]\n",
    "aliases-over-limit": "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
    "depth-at-limit": _nested(MAX_DEPTH),
    "depth-over-limit": _nested(MAX_DEPTH + 1),
    "depth-empty-at-limit": _nested(MAX_DEPTH + 1, ""),
    "depth-empty-over-limit": _nested(MAX_DEPTH + 2, ""),
    "depth-block": "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "v\n",
    "depth-by-alias": (
        "deep: &d " + "[" * 40 + "1" + "]" * 40 + "\nwrap: " + "[" * 30 + "*d" + "]" * 30 + "\n"
    ),
    "depth-by-alias-within": (
        "deep: &d " + "[" * 30 + "1" + "]" * 30 + "\nwrap: " + "[" * 30 + "*d" + "]" * 30 + "\n"
    ),
    "depth-200": _nested(200),
    "depth-beyond-libyaml": "[" * 5000 + "]" * 5000 + "\n",
    "depth-block-beyond-libyaml": "- " * 1200 + "x\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hand_written_cases_read_as_before(name: str) -> None:
    same_as_before(CASES[name].encode())


def test_the_bounds_are_refused_with_their_messages() -> None:
    def refusal(name: str) -> str:
        kind, found = outcome(parse_document, CASES[name].encode())
        assert kind == "refused", (name, found)
        assert found[0] == ""
        return str(found[1])

    deep = f"document refused: nested deeper than {MAX_DEPTH} levels"
    for name in (
        "depth-over-limit",
        "depth-empty-over-limit",
        "depth-block",
        "depth-by-alias",
        "depth-200",
        "depth-beyond-libyaml",
        "depth-block-beyond-libyaml",
        "recursive-list",
        "recursive-map",
        "recursive-root",
    ):
        assert refusal(name) == deep, name
    big = f"document refused: expands to more than {MAX_NODES} values"
    for name in ("alias-bomb", "alias-tree-just-over"):
        assert refusal(name) == big, name
    assert (
        refusal("aliases-over-limit") == f"document refused: more than {MAX_ALIASES} YAML aliases"
    )
    for name in (
        "depth-at-limit",
        "depth-empty-at-limit",
        "aliases-at-limit",
    ):
        assert outcome(parse_document, CASES[name].encode())[0] == "value", name


@pytest.mark.parametrize("limit", [1_001, 1_002, 1_003])
def test_the_value_count_is_exact(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # A smaller limit, so that the old reader answers in milliseconds; these documents are long
    # for it, so the event count is switched off: the graph's count is what is tested here (the
    # event count is tested below).
    monkeypatch.setattr(documents, "MAX_NODES", limit)
    monkeypatch.setattr(legacy_documents, "MAX_NODES", limit)
    monkeypatch.setattr(documents, "_count_nodes", lambda text: None)

    def ones(n: int) -> str:
        return ", ".join(["1"] * n)

    for text, values in (
        (f"a: [{ones(999)}]\n", 1 + 1 + 1 + 999),  # the mapping, its key, the list, the numbers
        (f"- &a [{ones(499)}]\n- *a\n- x\n", 1 + 2 * (1 + 499) + 1),  # half of it by an alias
        (f"a: {{<<: {{x: [{ones(995)}]}}, y: 1}}\n", 1 + 1 + 1 + 1 + (1 + 995) + 2),  # x merged in
    ):
        assert values == 1_002
        kind, found = outcome(parse_document, text.encode())
        if "<<" not in text:  # merge keys: refused by the old reader
            assert (kind, found) == legacy_outcome(text.encode())
        if limit < values:
            refused = ("", f"document refused: expands to more than {limit} values")
            assert (kind, found) == ("refused", refused)
        else:
            assert kind == "value"


def test_duplicate_keys_name_both_lines() -> None:
    kind, (location, message) = outcome(parse_document, CASES["duplicate"].encode())
    assert kind == "refused"
    assert location == "line 5, column 3"
    assert message == "invalid YAML: while reading a mapping; duplicate key 'c' (first at line 3)"


def test_a_python_tag_is_refused() -> None:
    kind, (location, message) = outcome(parse_document, CASES["python-tag"].encode())
    assert (kind, location) == ("refused", "line 1, column 4")
    assert "could not determine a constructor for the tag" in message
    assert "python/object/apply:os.system" in message


def test_places_count_characters_not_bytes() -> None:
    text = "a: 'éééé'\nb: {c: 1, c: 2}\n"
    assert outcome(parse_document, text.encode()) == (
        "refused",
        (
            "line 2, column 11",
            "invalid YAML: while reading a mapping; duplicate key 'c' (first at line 2)",
        ),
    )
    text = "a: 'éééé', b: 1\n"
    assert same_as_before(text.encode())[0] == "refused"


def test_an_alias_bomb_costs_nothing_to_measure() -> None:
    # 10^30 values if expanded; measured node by node it is 30 lists of 10 aliases.
    kind, found = outcome(parse_document, _alias_tree(31, 10).encode())
    assert (kind, found) == (
        "refused",
        ("", f"document refused: expands to more than {MAX_NODES} values"),
    )


def test_aliases_share_one_value() -> None:
    value = parse_document(CASES["anchors"].encode(), "a.yaml")
    assert value["use"] is value["base"]
    assert value["list"][0] is value["base"]


# Merge keys: supported, within the same bounds --------------------------------------------------

MERGE = """\
defaults: &defaults
  status: pass
  notes: reviewed
  evidence: [{url: "https://e.example/x"}]
results:
  - <<: *defaults
    check: TOOL-01
  - <<: *defaults
    check: GOV-01
    status: fail
  - <<: [{notes: first, a: 1}, {notes: second, b: 2}]
    check: AUD-01
  - {<<: {x: 1}, y: 2}
"""


def test_merge_keys_fill_in_what_the_mapping_does_not_set() -> None:
    value = parse_document(MERGE.encode(), "m.yaml")
    one, two, three, four = value["results"]
    assert one == {
        "status": "pass",
        "notes": "reviewed",
        "evidence": [{"url": "https://e.example/x"}],
        "check": "TOOL-01",
    }
    assert two["status"] == "fail" and two["notes"] == "reviewed"  # the mapping's own key wins
    assert three == {"notes": "first", "a": 1, "b": 2, "check": "AUD-01"}  # the first source wins
    assert four == {"x": 1, "y": 2}
    assert value["defaults"] == {k: v for k, v in one.items() if k != "check"}  # unchanged
    # PyYAML's own loader agrees, but for two sources setting one key (which one wins depends on
    # whether Python happens to share the key's string; the YAML 1.1 merge key says the first).
    pyyaml = yaml.load(MERGE, Loader=yaml.CSafeLoader)
    assert (
        value["results"][:2] + value["results"][3:] == pyyaml["results"][:2] + pyyaml["results"][3:]
    )


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        (
            "a: {<<: 1}\n",
            "line 1, column 9",
            "expected a mapping or list of mappings for merging, but found scalar",
        ),
        ("a: {<<: [1]}\n", "line 1, column 10", "expected a mapping for merging, but found scalar"),
        ("a: {<<: [!!set {x}]}\n", "line 1, column 10", "expected a mapping for merging"),
        (
            "a: {<<: {x: 1}, <<: {y: 2}}\n",
            "line 1, column 17",
            "duplicate key '<<' (first at line 1)",
        ),
        ("a: {<<: {x: 1, x: 2}}\n", "line 1, column 16", "duplicate key 'x' (first at line 1)"),
        ("b: &b {x: 1}\na: {<<: *b, y: 1, y: 2}\n", "line 2, column 19", "duplicate key 'y'"),
    ],
)
def test_bad_merge_keys_are_refused(text: str, location: str, message: str) -> None:
    kind, found = outcome(parse_document, text.encode())
    assert kind == "refused"
    assert found[0] == location
    assert message in found[1]


def test_merged_values_count_against_the_bounds() -> None:
    # Each level merges the previous one ten times over through a list of aliases... expanded
    # values are counted, however the document spells them.
    lines = ["m0: &m0 {" + ", ".join(f"k{i}: x" for i in range(10)) + "}"]
    for level in range(1, 8):
        refs = ", ".join(f"*m{level - 1}" for _ in range(10))
        lines.append(f"m{level}: &m{level} {{<<: *m{level - 1}, list: [{refs}]}}")
    kind, found = outcome(parse_document, ("\n".join(lines) + "\n").encode())
    assert (kind, found) == (
        "refused",
        ("", f"document refused: expands to more than {MAX_NODES} values"),
    )
    # Depth: a merged mapping's values sit at the level of the mapping's own values.
    inner = "[" * (MAX_DEPTH - 3) + "1" + "]" * (MAX_DEPTH - 3)
    fits = f"src: &s {{deep: {inner}}}\nuse: {{<<: *s}}\n"  # deep's list at level 3, like src's
    assert outcome(parse_document, fits.encode())[0] == "value"
    inner = "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2)
    over = f"x: {{y: {{<<: {{deep: {inner}}}}}}}\n"
    assert outcome(parse_document, over.encode()) == (
        "refused",
        ("", f"document refused: nested deeper than {MAX_DEPTH} levels"),
    )


# Generated documents: the same values as before, and as PyYAML's own loader -------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=True),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
    st.sampled_from(
        [
            "yes",
            "no",
            "on",
            "null",
            "~",
            "1e3",
            "0x1F",
            "2026-01-01",
            "<<",
            "=",
            "-",
            "- x",
            ": x",
            "#x",
            "&x",
            "*x",
            "!x",
        ]
    ),
)
_keys = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12),
    st.integers(min_value=-5, max_value=5),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(_keys, children, max_size=5),
    ),
    max_leaves=40,
)


def _share(value: Any, draw_bool: Any) -> Any:
    """Reuse some sub-containers so that the dumper writes anchors and aliases."""
    pool: list[Any] = []

    def walk(v: Any) -> Any:
        if isinstance(v, list | dict):
            if pool and draw_bool():
                return pool[-1]
            out: Any = (
                [walk(x) for x in v] if isinstance(v, list) else {k: walk(x) for k, x in v.items()}
            )
            pool.append(out)
            return out
        return v

    return walk(value)


@examples(300)
@given(
    value=st.dictionaries(_keys, _values, min_size=1, max_size=6),
    flow=st.sampled_from([None, True, False]),
    shared=st.data(),
)
def test_generated_documents_read_as_before(value: Any, flow: bool | None, shared: Any) -> None:
    value = _share(value, lambda: shared.draw(st.booleans()))
    text = yaml.dump(value, Dumper=yaml.SafeDumper, default_flow_style=flow, allow_unicode=True)
    kind, found = same_as_before(text.encode())
    if kind == "value":
        assert found == yaml.load(text, Loader=yaml.CSafeLoader)


_TOKENS = [
    "&a ",
    "*a",
    "<<: ",
    "!!set ",
    "!!omap ",
    "!x ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n",
    "  ",
    ",",
    "'",
    '"',
    "\\0",
    "#",
    "%",
    "---\n",
    "!!python/name:os.system ",
    "2026-13-01",
    "\t",
]


@examples(400)
@given(
    base=st.sampled_from(["plain", "anchors", "scalars", "tags", "set-omap-pairs", "duplicate"]),
    edits=st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.sampled_from(_TOKENS)), max_size=4
    ),
)
def test_mutated_documents_read_as_before(base: str, edits: list[tuple[int, str]]) -> None:
    text = CASES[base]
    for at, token in edits:
        at %= len(text) + 1
        text = text[:at] + token + text[at:]
    if "<<" in text:
        return  # merge keys: refused before, supported now (tested above)
    new = outcome(parse_document, text.encode())
    old = legacy_outcome(text.encode())
    if new == old:
        return
    if old[0] == "crashed":
        assert new[0] == "refused", (text, new, old)
    elif old[0] == "refused" and new[0] == "value":
        # libyaml's grammar is the more lenient one in places (a tab before a key's colon, `d?`
        # as a plain key in a flow mapping): accepted now, with libyaml's own value. Only syntax:
        # nothing the old reader refused for its meaning (a bound, a tag, a duplicate) passes.
        message = old[1][1]
        assert message.startswith("invalid YAML: "), (text, new, old)
        for meaning in ("duplicate key", "constructor", "invalid value", "unhashable", "alias"):
            assert meaning not in message, (text, new, old)
        assert new[1] == yaml.load(text, Loader=yaml.CSafeLoader)
    else:
        # Both refuse. A document with two faults may be refused for the other one first (the
        # old reader built values level by level, the new one in document order).
        assert new[0] == old[0] == "refused", (text, new, old)


# Without libyaml: the pure-Python composer, the same answers ---------------------------------

_WITHOUT_LIBYAML = """\
import json, sys
sys.modules["yaml._yaml"] = None  # as if PyYAML had been built without libyaml
import yaml
from compliance import documents
from compliance.errors import InvalidInput
assert not yaml.__with_libyaml__ and documents._Composer is yaml.SafeLoader
out = {}
for name, text in json.loads(sys.stdin.read()).items():
    try:
        value = documents.parse_document(text.encode(), "doc.yaml")
        out[name] = ["value", repr(sorted(value["s"]) if name == "set-omap-pairs" else value)]
    except InvalidInput as exc:
        out[name] = ["refused", [exc.problems[0].location, exc.problems[0].message]]
print(json.dumps(out))
"""


def test_without_libyaml_the_answers_are_the_same() -> None:
    # The pure-Python composer recurses: beyond Python's recursion limit it is refused as too
    # deep, as before, where libyaml stops at 1,000 levels; the message is the same.
    cases = {k: v for k, v in CASES.items() if "values" not in k}  # the million-value ones: slow
    cases["merge"] = MERGE
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_LIBYAML],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    pure = json.loads(proc.stdout)
    for name, text in cases.items():
        kind, found = outcome(parse_document, text.encode())
        if name == "set-omap-pairs":
            found = sorted(found["s"])  # a set's order is not the same from process to process
        expected = [kind, repr(found) if kind == "value" else list(found)]
        assert pure[name] == expected, name


def test_an_assessment_written_with_merge_keys_imports_as_if_written_out(
    run: Any, engine: Any, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from compliance.store import db
    from compliance.store.models import Check, Result
    from tests import factories

    doc = factories.assessment_doc()
    head = yaml.safe_dump({"deployment": doc["deployment"]}, sort_keys=False)
    rest = {k: v for k, v in doc["assessment"].items() if k not in ("results", "acceptances")}
    body = yaml.safe_dump({"assessment": rest}, sort_keys=False)
    results = [r for r in doc["assessment"]["results"] if r["check"] not in ("GOV-01", "GOV-02")]
    tail = "  results:\n"
    tail += "    - &ok {check: GOV-01, status: pass, notes: Reviewed by the board.}\n"
    tail += "    - {<<: *ok, check: GOV-02, status: partial}\n"
    tail += "".join(f"    - {json.dumps(r)}\n" for r in results)
    path = tmp_path / "merged" / "assessment.yaml"
    path.parent.mkdir()
    path.write_text(head + body + tail)
    result = run("import", str(path))
    assert result.exit_code == 0, result.output
    with db.transaction(engine) as s:
        rows = s.execute(
            select(Check.key, Result.status, Result.notes)
            .join(Check, Check.id == Result.check_id)
            .where(Check.key.in_(["GOV-01", "GOV-02"]))
            .order_by(Check.key)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("GOV-01", "pass", "Reviewed by the board."),
        ("GOV-02", "partial", "Reviewed by the board."),
    ]


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 250])
def test_read_bounded_reads_the_whole_file_up_to_the_limit(size: int, tmp_path: Path) -> None:
    from compliance.documents import read_bounded

    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    if size <= 100:
        assert read_bounded(path, "f", limit=100) == b"x" * size
    else:
        with pytest.raises(InvalidInput, match="larger than the limit of 100 bytes"):
            read_bounded(path, "f", limit=100)


@pytest.mark.parametrize(("grown_to", "refused"), [(80, False), (100, False), (101, True)])
def test_read_bounded_sees_a_file_that_grew_after_its_size_was_taken(
    grown_to: int, refused: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance import documents as module

    path = tmp_path / "f"
    path.write_bytes(b"x" * grown_to)
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> Any:  # the size the file had a moment before
        found = real_fstat(fd)
        return os.stat_result((*found[:6], 10, *found[7:]))

    monkeypatch.setattr(module.os, "fstat", stale_fstat)
    if refused:
        with pytest.raises(InvalidInput, match="larger than the limit"):
            module.read_bounded(path, "f", limit=100)
    else:
        assert module.read_bounded(path, "f", limit=100) == b"x" * grown_to


@pytest.mark.parametrize("nodes", [990, 1_001, 5_000])
def test_a_long_document_has_its_nodes_counted_before_they_are_made(
    nodes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a limit of 1,000 values, documents over 500 characters are counted from libyaml's
    # events first: ten MiB of `[1,1,1,...]` is refused in a second, not composed.
    monkeypatch.setattr(documents, "MAX_NODES", 1_000)
    monkeypatch.setattr(legacy_documents, "MAX_NODES", 1_000)
    counted: list[str] = []
    real = documents._count_nodes
    monkeypatch.setattr(documents, "_count_nodes", lambda text: (counted.append(text), real(text)))
    for text in (
        "a: [" + ",".join(["1"] * (nodes - 3)) + "]\n",  # the mapping, the key, the list
        "{" + ",".join(f"k{i}" for i in range(nodes // 2)) + "}\n",  # keys with empty values
    ):
        assert len(text) > 500
        found = same_as_before(text.encode())
        assert counted[-1] == text
        if nodes > 1_000:
            assert found == ("refused", ("", "document refused: expands to more than 1000 values"))
        else:
            assert found[0] == "value"
    # Merge keys and lists of sources are counted as if they were values: a bound a little
    # stricter than the graph's count, for long documents only.
    merged = f"a: {{<<: {{x: [{', '.join(['1'] * 995)}]}}, y: 1}}\n"  # 1,002 values, 1,004 nodes
    monkeypatch.setattr(documents, "MAX_NODES", 1_003)
    assert outcome(parse_document, merged.encode())[0] == "refused"
    monkeypatch.setattr(documents, "MAX_NODES", 1_004)
    assert outcome(parse_document, merged.encode())[0] == "value"


def test_ten_mib_of_values_is_refused_by_counting() -> None:
    from compliance.documents import MAX_DOCUMENT_BYTES

    count = (MAX_DOCUMENT_BYTES - 10) // 2
    text = "[" + "1," * (count - 1) + "1]\n"
    assert count > MAX_NODES and len(text) <= MAX_DOCUMENT_BYTES
    assert outcome(parse_document, text.encode()) == (
        "refused",
        ("", f"document refused: expands to more than {MAX_NODES} values"),
    )
