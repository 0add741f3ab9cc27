"""Reading a zip the way unzip does, and refusing everything the pack builder never writes.

Python's zipfile and Info-ZIP's unzip can disagree about what a zip holds: unzip honours the
Unicode Path extra field (0x7075), reads names without the UTF-8 flag in the host's code page,
and creates a file from a "directory" entry that holds data. So a pack is parsed here from its
bytes: the end record, the central directory and every local header, which must agree with each
other and lie end to end with nothing between or after them; each entry's data is inflated
here and checked against its CRC and size. Anything a pack built by this tool never contains
(extra fields other than Zip64's, comments, data descriptors, encryption, directory entries,
names outside printable ASCII) is a problem, named with the entry.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

LOCAL = b"PK\x03\x04"
CENTRAL = b"PK\x01\x02"
END = b"PK\x05\x06"
END64 = b"PK\x06\x06"
LOCATOR64 = b"PK\x06\x07"
ZIP64_EXTRA = 0x0001
KNOWN_EXTRAS = {
    0x7075: "Info-ZIP Unicode Path",
    0x6375: "Info-ZIP Unicode Comment",
    0x5455: "extended timestamp",
    0x7875: "Info-ZIP Unix UID/GID",
    0x000A: "NTFS times",
    0x9901: "AES encryption",
}
# Flag bits: 0 encrypted, 3 data descriptor, 6 strong encryption, 11 UTF-8 name, 13 masked
# central directory. Bits 1-2 (deflate options) and 11 are harmless; the rest are refused.
ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0800
FAT_HOSTS = {0, 6, 11, 14}  # MS-DOS, OS/2 HPFS, NTFS, VFAT: unzip maps their names
MAX_CENTRAL_DIRECTORY = 128 * 1024**2
_CHUNK = 1024 * 1024


class ZipProblem(Exception):
    """What is wrong with an entry's data, in words."""


@dataclass
class ZipEntry:
    name: str  # the header's name: ASCII here, else decoded as its flags say
    raw_name: bytes
    unzip_name: str  # the path unzip would create
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    external_attr: int
    create_system: int
    version_needed: int
    data_offset: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def is_dir(self) -> bool:
        return self.raw_name.endswith(b"/") or self.unzip_name.endswith("/")


@dataclass
class Layout:
    entries: list[ZipEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # about the archive as a whole
    readable: bool = True


def _extras(data: bytes) -> list[tuple[int, bytes]] | None:
    """The extra fields of a header, or None when they do not parse."""
    out = []
    pos = 0
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        kind, size = struct.unpack_from("<HH", data, pos)
        pos += 4
        if pos + size > len(data):
            return None
        out.append((kind, data[pos : pos + size]))
        pos += size
    return out


def _unicode_path(raw_name: bytes, payload: bytes) -> str | None:
    """The name an Info-ZIP Unicode Path field gives, when unzip would use it (version 1, CRC
    of the header's name)."""
    if len(payload) < 5 or payload[0] != 1:
        return None
    (crc,) = struct.unpack_from("<I", payload, 1)
    if crc != zlib.crc32(raw_name):
        return None
    return payload[5:].decode("utf-8", errors="replace")


def _decoded(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8", errors="replace") if flags & 0x0800 else raw.decode("cp437")


def unzip_path(name: str, create_system: int) -> str:
    """The path unzip creates for an entry name: backslashes of DOS-like hosts become slashes,
    leading slashes and `.`, `..` and empty components are dropped."""
    if create_system in FAT_HOSTS:
        name = name.replace("\\", "/")
    trailing = name.endswith("/")
    parts = [p for p in name.split("/") if p not in ("", ".", "..")]
    return "/".join(parts) + ("/" if trailing and parts else "")


def _name_problems(entry: ZipEntry) -> list[str]:
    raw = entry.raw_name
    found = []
    if any(b > 0x7E for b in raw):
        found.append(
            "its name is not ASCII and reads differently as CP437 "
            f"({raw.decode('cp437')!r}) and as UTF-8 ({raw.decode('utf-8', errors='replace')!r})"
        )
    if any(b < 0x20 or b == 0x7F for b in raw):
        found.append("its name holds control characters")
    if b"\\" in raw:
        found.append("its name holds a backslash (a path separator for some unzip hosts)")
    if not entry.is_dir and entry.unzip_name != entry.name:
        found.append(f"unzip would create {entry.unzip_name!r}, not {entry.name!r}")
    return found


def _zip64(values: list[int], payload: bytes | None) -> list[int] | None:
    """Replace the 0xFFFFFFFF values (in order: size, compressed size, offset) by the Zip64
    field's."""
    out = list(values)
    pos = 0
    for i, v in enumerate(values):
        if v != 0xFFFFFFFF:
            continue
        if payload is None or pos + 8 > len(payload):
            return None
        (out[i],) = struct.unpack_from("<Q", payload, pos)
        pos += 8
    return out


def _check_extras(
    entry: ZipEntry, extras: list[tuple[int, bytes]] | None, where: str
) -> bytes | None:
    """Note every extra field the builder never writes; return the Zip64 field's payload."""
    if extras is None:
        entry.problems.append(f"its {where} extra fields are malformed")
        return None
    zip64 = None
    for kind, payload in extras:
        if kind == ZIP64_EXTRA:
            zip64 = payload
            continue
        label = KNOWN_EXTRAS.get(kind, "unknown")
        detail = ""
        if kind == 0x7075:
            named = _unicode_path(entry.raw_name, payload)
            if named is not None:
                entry.unzip_name = unzip_path(named, 3)
                detail = f": unzip would create {entry.unzip_name!r}"
        entry.problems.append(
            f"{where} extra field 0x{kind:04x} ({label}){detail}, which the pack builder never writes"
        )
    return zip64


def _find_end(fh: BinaryIO, size: int, layout: Layout) -> tuple[int, int, int] | None:
    """(entries, central directory size, central directory offset) from the end records."""
    if size < 22:
        layout.problems.append("too short to be a zip file")
        return None
    fh.seek(size - 22)
    tail = fh.read(22)
    if tail[:4] != END:
        fh.seek(max(0, size - 22 - 65535))
        window = fh.read()
        if END in window:
            layout.problems.append(
                "data or a comment follows the end-of-central-directory record (the builder writes none)"
            )
        else:
            layout.problems.append("not a zip file: no end-of-central-directory record")
        return None
    disk, cd_disk, here, total, cd_size, cd_offset, comment = struct.unpack("<HHHHIIH", tail[4:])
    if comment:
        layout.problems.append("the zip has a comment (the builder writes none)")
        return None
    if disk or cd_disk or here != total:
        layout.problems.append("the zip spans several disks")
        return None
    end = size - 22
    if total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        if end < 20 + 56:
            layout.problems.append("Zip64 end records are missing")
            return None
        fh.seek(end - 20)
        locator = fh.read(20)
        if locator[:4] != LOCATOR64:
            layout.problems.append("the Zip64 end-of-central-directory locator is missing")
            return None
        _disk, offset64, disks = struct.unpack("<IQI", locator[4:])
        if offset64 != end - 20 - 56 or disks != 1:
            layout.problems.append("the Zip64 end record is not where its locator says")
            return None
        fh.seek(offset64)
        record = fh.read(56)
        if record[:4] != END64:
            layout.problems.append("the Zip64 end-of-central-directory record is missing")
            return None
        (rsize, _made, _need, disk, cd_disk, here, total, cd_size, cd_offset) = struct.unpack(
            "<QHHIIQQQQ", record[4:]
        )
        if rsize != 44 or disk or cd_disk or here != total:
            layout.problems.append("the Zip64 end record is malformed")
            return None
        end = offset64
    if cd_offset + cd_size != end:
        layout.problems.append(
            "the central directory does not end where the end record begins (hidden data?)"
        )
        return None
    return total, cd_size, cd_offset


def read_layout(fh: BinaryIO, size: int, max_entries: int) -> Layout:
    """Parse the end records, the central directory and every local header of a zip."""
    layout = Layout()
    found = _find_end(fh, size, layout)
    if found is None:
        layout.readable = False
        return layout
    total, cd_size, cd_offset = found
    if total > max_entries:
        layout.problems.append(f"more than {max_entries} entries")
        layout.readable = False
        return layout
    if cd_size > MAX_CENTRAL_DIRECTORY:
        layout.problems.append("the central directory is implausibly large")
        layout.readable = False
        return layout
    fh.seek(cd_offset)
    cd = fh.read(cd_size)
    pos = 0
    while pos < len(cd):
        if cd[pos : pos + 4] != CENTRAL or pos + 46 > len(cd):
            layout.problems.append(f"the central directory is malformed at byte {cd_offset + pos}")
            layout.readable = False
            return layout
        (
            made_by,
            need,
            flags,
            method,
            _time,
            _date,
            crc,
            csize,
            usize,
            n_len,
            e_len,
            c_len,
            disk_start,
            _internal,
            external,
            offset,
        ) = struct.unpack_from("<HHHHHHIIIHHHHHII", cd, pos + 4)
        end = pos + 46 + n_len + e_len + c_len
        if end > len(cd):
            layout.problems.append("the central directory is truncated")
            layout.readable = False
            return layout
        raw = cd[pos + 46 : pos + 46 + n_len]
        name = _decoded(raw, flags)
        entry = ZipEntry(
            name=name,
            raw_name=raw,
            unzip_name=unzip_path(name, made_by >> 8),
            flags=flags,
            method=method,
            crc=crc,
            compress_size=csize,
            file_size=usize,
            header_offset=offset,
            external_attr=external,
            create_system=made_by >> 8,
            version_needed=need,
        )
        zip64 = _check_extras(
            entry, _extras(cd[pos + 46 + n_len : pos + 46 + n_len + e_len]), "central"
        )
        resolved = _zip64([usize, csize, offset], zip64)
        if resolved is None:
            entry.problems.append("its sizes or offset need a Zip64 field it does not have")
        else:
            entry.file_size, entry.compress_size, entry.header_offset = resolved
        if c_len:
            entry.problems.append("it has a comment (the builder writes none)")
        if disk_start:
            entry.problems.append("it starts on another disk")
        layout.entries.append(entry)
        pos = end
    if len(layout.entries) != total:
        layout.problems.append(
            f"the end record counts {total} entries, the central directory holds {len(layout.entries)}"
        )
        layout.readable = False
        return layout
    for entry in layout.entries:
        _check_local(fh, size, entry)
        _check_entry(entry)
    _check_tiling(layout, cd_offset)
    seen: dict[str, ZipEntry] = {}
    for entry in layout.entries:
        key = entry.unzip_name.rstrip("/")
        if key in seen:
            entry.problems.append(
                f"unzip would write {key!r} twice (also entry {seen[key].name!r}): the last one wins"
            )
        else:
            seen[key] = entry
    return layout


def _check_local(fh: BinaryIO, size: int, entry: ZipEntry) -> None:
    if entry.header_offset + 30 > size:
        entry.problems.append("its local header lies outside the file")
        return
    fh.seek(entry.header_offset)
    head = fh.read(30)
    if head[:4] != LOCAL:
        entry.problems.append("no local header where the central directory says")
        return
    (need, flags, method, _t, _d, crc, csize, usize, n_len, e_len) = struct.unpack_from(
        "<HHHHHIIIHH", head, 4
    )
    name = fh.read(n_len)
    extra = fh.read(e_len)
    entry.data_offset = entry.header_offset + 30 + n_len + e_len
    if name != entry.raw_name:
        entry.problems.append(
            f"its local header names it {_decoded(name, flags)!r}, the central directory {entry.name!r}"
        )
    zip64 = _check_extras(entry, _extras(extra), "local")
    local = _zip64([usize, csize], zip64) if zip64 is not None else [usize, csize]
    if flags != entry.flags or method != entry.method:
        entry.problems.append("its local header and central directory disagree (flags or method)")
    if (
        local is None
        or crc != entry.crc
        or local[0] != entry.file_size
        or local[1] != entry.compress_size
    ):
        entry.problems.append("its local header and central directory disagree (CRC or sizes)")
    if need > 45:
        entry.problems.append(f"it needs version {need / 10} of the zip format to extract")
    if entry.data_offset + entry.compress_size > size:
        entry.problems.append("its data runs past the end of the file")


def _check_entry(entry: ZipEntry) -> None:
    if entry.flags & 0x0001 or entry.flags & 0x0040:
        entry.problems.append("it is encrypted")
    if entry.flags & ~ALLOWED_FLAGS & ~0x0041:
        entry.problems.append(f"it sets flags 0x{entry.flags:04x} the builder never sets")
    if entry.method not in (0, 8):
        entry.problems.append(f"compression method {entry.method} (the builder uses deflate)")
    if entry.version_needed > 45:
        entry.problems.append(
            f"it needs version {entry.version_needed / 10} of the zip format to extract"
        )
    if entry.is_dir:
        if entry.file_size:
            entry.problems.append(
                f"a directory entry holding {entry.file_size} bytes: unzip would write them as "
                f"{entry.unzip_name.rstrip('/')!r} or ignore them, other readers skip them"
            )
        else:
            entry.problems.append("a directory entry (the builder writes none)")
    entry.problems.extend(_name_problems(entry))


def _check_tiling(layout: Layout, cd_offset: int) -> None:
    """Entries must lie end to end from the first byte to the central directory."""
    placed = sorted((e for e in layout.entries if e.data_offset), key=lambda e: e.header_offset)
    expected = 0
    for e in placed:
        if e.header_offset != expected:
            gap = (
                "bytes no entry accounts for precede"
                if e.header_offset > expected
                else "it overlaps"
            )
            layout.problems.append(f"{gap} entry {e.name!r} (at byte {e.header_offset})")
            return
        expected = e.data_offset + e.compress_size
    if placed and expected != cd_offset:
        layout.problems.append("bytes no entry accounts for precede the central directory")


def chunks(fh: BinaryIO, entry: ZipEntry, limit: int) -> Iterator[bytes]:
    """The entry's content, inflated and checked against its CRC and size; at most `limit`
    bytes. Raises ZipProblem."""
    fh.seek(entry.data_offset)
    remaining = entry.compress_size
    crc = 0
    produced = 0
    if entry.method == 0:
        if entry.compress_size != entry.file_size:
            raise ZipProblem("a stored entry whose sizes differ")
        while remaining:
            block = fh.read(min(_CHUNK, remaining))
            if not block:
                raise ZipProblem("its data is truncated")
            remaining -= len(block)
            produced += len(block)
            if produced > limit:
                raise ZipProblem("the entry is larger than the limit")
            crc = zlib.crc32(block, crc)
            yield block
    else:
        inflater = zlib.decompressobj(-15)
        try:
            while remaining or inflater.unconsumed_tail:
                if inflater.unconsumed_tail:
                    data = inflater.unconsumed_tail
                else:
                    data = fh.read(min(_CHUNK, remaining))
                    if not data:
                        raise ZipProblem("its data is truncated")
                    remaining -= len(data)
                out = inflater.decompress(data, _CHUNK)
                produced += len(out)
                if produced > entry.file_size or produced > limit:
                    raise ZipProblem("it inflates beyond its declared size")
                crc = zlib.crc32(out, crc)
                if out:
                    yield out
                if inflater.eof:
                    break
            tail = inflater.flush()
            produced += len(tail)
            if produced > entry.file_size or produced > limit:
                raise ZipProblem("it inflates beyond its declared size")
            crc = zlib.crc32(tail, crc)
            if tail:
                yield tail
        except zlib.error as exc:
            raise ZipProblem(f"its deflate data is corrupt: {exc}") from None
        if not inflater.eof or remaining or inflater.unused_data or inflater.unconsumed_tail:
            raise ZipProblem("its deflate stream does not end where its compressed size says")
    if produced != entry.file_size:
        raise ZipProblem(f"it holds {produced} bytes, its header says {entry.file_size}")
    if crc != entry.crc:
        raise ZipProblem("its CRC does not match its data")


def digest(fh: BinaryIO, entry: ZipEntry, limit: int) -> tuple[str, int]:
    """SHA-256 and size of an entry's content (raises ZipProblem)."""
    h = hashlib.sha256()
    size = 0
    for block in chunks(fh, entry, limit):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def read(fh: BinaryIO, entry: ZipEntry, limit: int) -> bytes:
    """An entry's content in full (raises ZipProblem)."""
    return b"".join(chunks(fh, entry, limit))
