"""Reading YAML and JSON documents safely: bounded size, depth and alias expansion."""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from types import GeneratorType
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from compliance.errors import InvalidInput, Problem

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_ALIASES = 1_000


class _DocumentTooComplex(Exception):
    pass


def _too_deep() -> _DocumentTooComplex:
    return _DocumentTooComplex(f"nested deeper than {MAX_DEPTH} levels")


def _too_big() -> _DocumentTooComplex:
    return _DocumentTooComplex(f"expands to more than {MAX_NODES} values")


# YAML ------------------------------------------------------------------------------------------
#
# libyaml (PyYAML's C extension) scans, parses and composes the document into a graph of nodes.
# The bounds are checked on that graph, each node measured once however often it is aliased (an
# alias bomb costs no more to measure than to read); only then are values built: plain text,
# mappings and sequences directly, every other tag by PyYAML's safe constructors, any tag
# without one (a Python tag, say) refused. Where PyYAML is installed without libyaml, its
# pure-Python composer makes the same nodes, about ten times slower; what follows is the same.
try:
    from yaml import CSafeLoader as _Composer

    _LIBYAML = True
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Composer  # type: ignore[assignment]

    _LIBYAML = False

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"

# A plain scalar whose first character starts no implicit resolver's pattern is text: PyYAML's
# resolver would try no pattern at all. Other plain scalars are resolved once per distinct value.
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_RESOLVED_FIRST = frozenset(k for k in _RESOLVERS if k)
_RESOLVED: dict[str, str] = {}  # short plain scalar -> tag; bounded, shared by every load
_RESOLVED_MAX = 4096
_RESOLVED_LONGEST = 64  # longer values (notes, say) are seldom repeated: not kept


class _Merge:
    """Stands for a `<<` key among a mapping's keys while the mapping is built."""

    def __repr__(self) -> str:
        return "'<<'"


_MERGE_KEY = _Merge()
_NOT_BUILT = object()


class _Loader(_Composer):
    """A safe loader: libyaml composes, `_check_graph` bounds the graph, `build` makes values."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._built: dict[int, Any] = {}  # id(collection node) -> its value, shared by aliases

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # The composer calls this for every node; PyYAML's answers, without its per-call work.
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR  # quoted or block text
            if value and value[0] not in _RESOLVED_FIRST:
                return _STR
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(value) <= _RESOLVED_LONGEST:
                    if len(_RESOLVED) >= _RESOLVED_MAX:
                        _RESOLVED.clear()
                    _RESOLVED[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def build(self, node: Any) -> Any:
        """The value of a node whose graph `_check_graph` accepted (so the recursion is shallow)."""
        cls = node.__class__
        tag = node.tag
        if cls is ScalarNode:
            return node.value if tag == _STR else self._construct_other(node)
        built = self._built.get(id(node), _NOT_BUILT)
        if built is not _NOT_BUILT:
            return built  # an alias: the same value, as PyYAML gives
        if tag == _MAP and cls is MappingNode:
            return self.construct_mapping(node)
        if tag == _SEQ and cls is SequenceNode:
            out: list[Any] = []
            self._built[id(node)] = out
            build = self.build
            out.extend([build(child) for child in node.value])
            return out
        return self._construct_other(node)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # PyYAML's constructors of sets, ordered maps and pairs build their items through this.
        return self.build(node)

    def _construct_other(self, node: Any) -> Any:
        constructor = self.yaml_constructors.get(node.tag)
        if constructor is None:
            self.construct_undefined(node)  # raises "could not determine a constructor ..."
        try:
            data = constructor(self, node)
            if isinstance(data, GeneratorType):  # a collection: made empty first, then filled
                generator = data
                data = next(generator)
                self._built[id(node)] = data
                for _ in generator:
                    pass
        except (ValueError, OverflowError) as exc:  # month 13, a 5,000-digit integer, ...
            if isinstance(exc, yaml.YAMLError):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value {node.value!r}: {exc}", node.start_mark
            ) from None
        except (KeyError, AttributeError, TypeError):
            # PyYAML's constructors fail so on text an explicit tag does not fit (`!!bool maybe`,
            # `!!timestamp soon`): refused like any other bad value, not a traceback.
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid value {node.value!r} for the tag {node.tag}", node.start_mark
            ) from None
        return data

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        """A mapping node's dict: a repeated key is refused naming both lines; `<<` merges."""
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping node, but found {node.id}", node.start_mark
            )
        out: dict[Any, Any] = {}
        self._built[id(node)] = out
        build = self.build
        pairs = node.value
        # Every key first, as before: a duplicate is reported before any value is built.
        keys = [
            key_node.value
            if key_node.tag == _STR and key_node.__class__ is ScalarNode
            else _MERGE_KEY
            if key_node.tag == _MERGE and key_node.__class__ is ScalarNode
            else build(key_node)
            for key_node, _value in pairs
        ]
        try:
            distinct = len(set(keys))
        except TypeError:  # an unhashable key (a list or mapping): refused below
            distinct = -1
        if distinct != len(keys):
            self._refuse_duplicate(node, keys)
        merges = []
        for key, (key_node, value_node) in zip(keys, pairs, strict=True):
            if key is _MERGE_KEY:
                merges.append(value_node)
                continue
            if distinct < 0 and not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            out[key] = build(value_node)
        if merges:
            self._merge(node, out, merges[0])
        return out

    @staticmethod
    def _refuse_duplicate(node: Any, keys: list[Any]) -> None:
        seen: dict[Any, Any] = {}
        for key, (key_node, _value) in zip(keys, node.value, strict=True):
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable: refused when the mapping is built
            if first is not None:
                # PyYAML would keep the last of two equal keys; a compliance record must not
                # lose one silently.
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark

    def _merge(self, node: Any, out: dict[Any, Any], value_node: Any) -> None:
        """YAML merge key (`<<: *base` or `<<: [*a, *b]`): the sources' keys that the mapping does
        not set itself, an earlier source winning over a later one."""
        if isinstance(value_node, SequenceNode):
            sources = value_node.value
        elif isinstance(value_node, MappingNode):
            sources = [value_node]
        else:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"expected a mapping or list of mappings for merging, but found {value_node.id}",
                value_node.start_mark,
            )
        merged: dict[Any, Any] = {}
        for source in sources:
            value = self.build(source) if isinstance(source, MappingNode) else None
            if not isinstance(value, dict):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"expected a mapping for merging, but found {source.id}",
                    source.start_mark,
                )
            for key, item in value.items():
                merged.setdefault(key, item)
        own = dict(out)
        out.clear()  # the same dict object: an alias of this mapping may already hold it
        out.update(merged)
        out.update(own)


def _check_tree(root: Any) -> None:
    """Bounds of a document without anchors or merge keys, where each node is one value: depth
    and count, level by level over the collections only (text and numbers cost nothing)."""
    count = 1
    level = [] if root.__class__ is ScalarNode else [root]
    depth = 1  # of the nodes in `level`
    while level:
        below: list[Any] = []
        for node in level:
            items = node.value
            if not items:
                continue
            if depth >= MAX_DEPTH:  # its items would be one level deeper
                raise _too_deep()
            if node.__class__ is MappingNode:
                count += 2 * len(items)
                for key_node, value_node in items:
                    if key_node.__class__ is not ScalarNode:
                        below.append(key_node)
                    if value_node.__class__ is not ScalarNode:
                        below.append(value_node)
            else:
                count += len(items)
                below += [item for item in items if item.__class__ is not ScalarNode]
            if count > MAX_NODES:
                raise _too_big()
        level = below
        depth += 1


def _check_graph(root: Any) -> None:
    """Bounds of a document with anchors or merge keys, on its values as a consumer sees them:
    every alias and merge expanded. Each node is measured once and its (depth, count) reused
    wherever it is aliased; a node inside itself is infinitely deep."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (height, values) once measured
    scalars: set[int] = set()  # scalar nodes met, to count aliases of them
    open_nodes: set[int] = set()  # collections being measured
    aliases = 0

    def alias() -> None:
        nonlocal aliases
        aliases += 1
        if aliases > MAX_ALIASES:
            raise _DocumentTooComplex(f"more than {MAX_ALIASES} YAML aliases")

    def measure(node: Any, depth: int) -> tuple[int, int]:
        key = id(node)
        if node.__class__ is ScalarNode:
            if key in scalars:
                alias()
            else:
                scalars.add(key)
            return 1, 1
        done = measured.get(key)
        if done is not None:
            alias()
            return done
        # A cycle, or too deep to bother: a merge's list of sources is the only node that is not
        # a level of the values, and it sits under a mapping, so 2 x MAX_DEPTH nodes are more
        # than MAX_DEPTH levels.
        if key in open_nodes or depth > 2 * MAX_DEPTH:
            raise _too_deep()
        open_nodes.add(key)
        height = count = 0  # of the items
        if node.__class__ is MappingNode:
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE and key_node.__class__ is ScalarNode:
                    # The sources' items become this mapping's: one level up, the source not
                    # counted itself.
                    measure(value_node, depth + 1)
                    sources = (
                        value_node.value if value_node.__class__ is SequenceNode else [value_node]
                    )
                    for source in sources:
                        h, c = measured.get(id(source), (1, 1))
                        height, count = max(height, h - 1), count + c - 1
                    continue
                hk, ck = measure(key_node, depth + 1)
                hv, cv = measure(value_node, depth + 1)
                height, count = max(height, hk, hv), count + ck + cv
        else:
            for item in node.value:
                h, c = measure(item, depth + 1)
                height, count = max(height, h), count + c
        if count >= MAX_NODES:
            raise _too_big()
        open_nodes.discard(key)
        measured[key] = done = (height + 1, count + 1)
        return done

    height, _count = measure(root, 1)
    if height > MAX_DEPTH:
        raise _too_deep()


def _error_as_before(text: str, found: yaml.YAMLError) -> Exception:
    """What to report for an error libyaml found: the error PyYAML's pure-Python composer finds,
    worded as the reader before libyaml worded it, else libyaml's own. Only a refused file pays
    for this second reading."""
    if isinstance(found, yaml.MarkedYAMLError) and "maximum nesting depth" in str(found.problem):
        return _too_deep()  # libyaml's own limit, 1,000 levels
    composer = yaml.SafeLoader(text)
    try:
        composer.get_single_node()
    except yaml.YAMLError as exc:
        return exc
    except RecursionError:
        return _too_deep()
    finally:
        composer.dispose()
    return found


_NODE_EVENTS = (
    yaml.ScalarEvent,
    yaml.AliasEvent,
    yaml.SequenceStartEvent,
    yaml.MappingStartEvent,
)


def _count_nodes(text: str) -> None:
    """Refuse a long document that holds more nodes than MAX_NODES before any node is made:
    composed, ten MiB of `[1,1,1,...]` would take seconds and a gigabyte and a half. libyaml's
    events are counted and dropped. (A merge key and its list of sources count here, though
    they are not values: a bound, a little stricter than `_check_graph`.)"""
    parser = _Composer(text)
    nodes = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, _NODE_EVENTS):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _too_big()
    finally:
        parser.dispose()


def _load_yaml(text: str) -> Any:
    """The YAML document's value, or None when the stream holds no document."""
    loader = _Loader(text)
    try:
        try:
            # A node takes at least one character (`{a,b}`: one letter, a key and its empty
            # value), so only a document this long can hold too many (with a factor 2 to spare).
            if len(text) > MAX_NODES // 2:
                _count_nodes(text)
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            if not _LIBYAML:
                raise
            raise _error_as_before(text, exc) from None
        if root is None:
            return None
        # Without `&` there are no anchors, so no aliases: every node is one value.
        if "&" in text or "<<" in text:
            _check_graph(root)
        else:
            _check_tree(root)
        return loader.build(root)
    finally:
        loader.dispose()


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
                raise _too_deep()
            count += size
            if count > MAX_NODES:
                raise _too_big()
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
            _measure(value)  # YAML's bounds were checked on its node graph, before building
        else:
            value = _load_yaml(text)
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
        _refuse_nul(value, text, fmt)
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
            # Ask for the size the file has (plus one byte, to see it grow), not for `limit`:
            # a read of 10 MiB allocates 10 MiB first, which costs more than reading a small
            # file. A file that grows meanwhile is read on, up to the limit and one byte.
            size = min(os.fstat(fh.fileno()).st_size, limit)
            data = fh.read(size + 1)
            if len(data) > size:
                data += fh.read(limit + 1 - len(data))
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
