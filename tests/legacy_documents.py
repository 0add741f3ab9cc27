"""The YAML and JSON reader as it was before the libyaml loader (PyYAML's pure-Python SafeLoader with
bounds checked while composing and after building), kept verbatim as the reference the new
reader is compared with in tests/test_documents.py. Not used by the engine."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import InvalidInput, Problem

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_ALIASES = 1_000


class _DocumentTooComplex(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses deep nesting and unbounded alias use while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # PyYAML keeps the last of two equal keys; a compliance record must not lose one silently.
        seen: dict[Any, Any] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key {key!r} (first at line {seen[key].line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
            except TypeError:
                pass  # unhashable keys are reported by the schema
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            if isinstance(exc, yaml.YAMLError):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value {node.value!r}: {exc}", node.start_mark
            ) from None

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _DocumentTooComplex(f"more than {MAX_ALIASES} YAML aliases")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _DocumentTooComplex(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _DuplicateKey(Exception):
    pass


class _NulText(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: only then look for the first repeated key, to name it
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _nul_path(value: Any, path: str = "") -> str | None:
    """Where the first text containing a NUL character is, as `a.b[2].c`."""
    if isinstance(value, str):
        return (path or "(document)") if "\x00" in value else None
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _nul_path(k, path) or _nul_path(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        for i, v in enumerate(value):
            found = _nul_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


# The only containers json and the safe YAML loader build (tuples come from YAML !!pairs).
_CONTAINERS = frozenset((dict, list, tuple))


def _measure(value: Any) -> None:
    """Refuse absurd depth or expanded size (YAML aliases), counting values as a consumer sees them.

    Every key and every value counts as one. The walk goes one level of nesting at a time and
    visits containers only, counting the values in each at once: text and numbers cost nothing.
    """
    count = 1
    level = [value] if type(value) in _CONTAINERS else []
    depth = 1  # of the containers in `level`
    while level:
        below: list[Any] = []
        for item in level:
            if type(item) is dict:
                size = 2 * len(item)  # keys are never containers: the loaders refuse them
                children: Iterable[Any] = item.values()
            else:
                size = len(item)
                children = item
            if not size:
                continue
            if depth >= MAX_DEPTH:  # its values would be one level deeper
                raise _DocumentTooComplex(f"nested deeper than {MAX_DEPTH} levels")
            count += size
            if count > MAX_NODES:
                raise _DocumentTooComplex(f"expands to more than {MAX_NODES} values")
            below += [child for child in children if type(child) in _CONTAINERS]
        level = below
        depth += 1


# Raw NUL bytes are refused before parsing, so a NUL can reach a value only through an escape.
_JSON_NUL_ESCAPES = ("\\u0000",)
_YAML_NUL_ESCAPES = ("\\0", "\\x00", "\\u0000", "\\U00000000")


def _refuse_nul(value: Any, text: str, fmt: str) -> None:
    """Refuse text containing a NUL character, naming where it is."""
    escapes = _JSON_NUL_ESCAPES if fmt == "json" else _YAML_NUL_ESCAPES
    if not any(escape in text for escape in escapes):
        return  # the common case: no walk at all
    where = _nul_path(value)
    if where is not None:
        # Text with NUL cannot be stored everywhere (PostgreSQL refuses it) nor shown safely.
        raise _NulText(where)


def parse_document(data: bytes, name: str, *, fmt: str | None = None) -> Any:
    """Parse YAML or JSON bytes into plain Python values, or raise InvalidInput naming `name`.

    `fmt` is "json" or "yaml"; by default it follows the file suffix (JSON for `.json`).
    """

    def fail(message: str, location: str = "") -> InvalidInput:
        return InvalidInput([Problem(name, location, message)])

    if len(data) > MAX_DOCUMENT_BYTES:
        raise fail(f"file is larger than the limit of {MAX_DOCUMENT_BYTES} bytes")
    if b"\x00" in data:
        raise fail("not a text file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    if not text.strip():
        raise fail("document is empty")
    fmt = fmt or ("json" if name.lower().endswith(".json") else "yaml")
    try:
        if fmt == "json":
            value = json.loads(text, object_pairs_hook=_unique_pairs)
        else:
            loader = _BoundedLoader(text)
            try:
                value = loader.get_single_data()
            finally:
                loader.dispose()
    except _DocumentTooComplex as exc:
        raise fail(f"document refused: {exc}") from None
    except RecursionError:
        raise fail(f"document refused: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}") from None
    except _DuplicateKey as exc:
        raise fail(f"invalid JSON: duplicate key {exc.args[0]!r} in an object") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "; ".join(p for p in (exc.context, exc.problem) if p)
        if "another document" in what:
            what = "expected a single document, but found another document in the same file"
        raise fail(f"invalid YAML: {what}", where) from None
    except ValueError as exc:  # e.g. an integer beyond Python's conversion limit in JSON
        raise fail(f"invalid value: {exc}") from None
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML: {exc}") from None
    try:
        _measure(value)
        _refuse_nul(value, text, fmt)
    except _DocumentTooComplex as exc:
        raise fail(f"document refused: {exc}") from None
    except _NulText as exc:
        raise fail(
            "text contains a NUL character, which cannot be stored", str(exc.args[0])
        ) from None
    if value is None:
        raise fail("document is empty")
    return value


def read_bounded(path: Path, name: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """Read at most `limit` bytes of a regular file, or raise InvalidInput naming `name`."""
    try:
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else None
            raise InvalidInput(
                [
                    Problem(
                        name,
                        "",
                        f"expected a file, found {what}" if what else "file does not exist",
                    )
                ]
            )
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InvalidInput([Problem(name, "", f"cannot be read: {exc.strerror}")]) from None
    if len(data) > limit:
        raise InvalidInput([Problem(name, "", f"file is larger than the limit of {limit} bytes")])
    return data


def read_document(path: Path, *, label: str | None = None) -> tuple[Any, bytes]:
    """Read and parse a file; return the parsed value and the raw bytes it came from."""
    name = label or str(path)
    data = read_bounded(path, name)
    return parse_document(data, name), data


def format_location(loc: Sequence[int | str]) -> str:
    """Turn a pydantic error location into `a.b[3].c` form."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
