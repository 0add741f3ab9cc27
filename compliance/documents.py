"""Reading YAML and JSON documents safely: bounded size, depth and alias expansion."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def _measure(value: Any) -> None:
    """Walk the loaded value as a consumer would, refusing absurd depth or expanded size."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _DocumentTooComplex(f"expands to more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _DocumentTooComplex(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item if not isinstance(k, str))
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes):
            stack.extend((v, depth + 1) for v in item)


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
            value = json.loads(text)
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
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise fail(f"invalid YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise fail(f"invalid YAML: {exc}") from None
    try:
        _measure(value)
    except _DocumentTooComplex as exc:
        raise fail(f"document refused: {exc}") from None
    if value is None:
        raise fail("document is empty")
    return value


def read_document(path: Path, *, label: str | None = None) -> tuple[Any, bytes]:
    """Read and parse a file; return the parsed value and the raw bytes it came from."""
    name = label or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise InvalidInput(
                [Problem(name, "", f"file is larger than the limit of {MAX_DOCUMENT_BYTES} bytes")]
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput([Problem(name, "", "file does not exist")]) from None
    except IsADirectoryError:
        raise InvalidInput([Problem(name, "", "expected a file, found a directory")]) from None
    except OSError as exc:
        raise InvalidInput([Problem(name, "", f"cannot be read: {exc.strerror}")]) from None
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
