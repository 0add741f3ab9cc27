"""Serving a stored evidence file: only from the evidence store, only by its recorded hash, and
only bytes that hash to it.

The file is opened under the store's folder without following a link at any step below it
(`O_NOFOLLOW`, relative to the folder's descriptor), must be a regular file, and is copied into
a private spool while it is hashed; only a copy whose SHA-256 is the one recorded is served, so
what the reader receives is exactly what was verified, even if the stored file changes meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from typing import IO

from compliance.errors import ComplianceError
from compliance.evidence import EvidenceStore

_HASH = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024


class NotVerified(ComplianceError):
    """The stored copy is missing, not a plain file, or does not hash to its record."""


def _open_no_links(store: EvidenceStore, sha256: str) -> int:
    folder_flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    file_flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    root = os.open(store.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        sub = os.open(sha256[:2], folder_flags, dir_fd=root)
        try:
            return os.open(sha256[2:], file_flags, dir_fd=sub)
        finally:
            os.close(sub)
    finally:
        os.close(root)


def verified_copy(store: EvidenceStore, sha256: str) -> IO[bytes]:
    """A private copy of the stored file named by `sha256`, checked against it, rewound."""
    if not _HASH.fullmatch(sha256):
        raise NotVerified("not a SHA-256")
    try:
        fd = _open_no_links(store, sha256)
    except FileNotFoundError:
        raise NotVerified(f"{sha256}: missing from the evidence store") from None
    except OSError as exc:  # a link (ELOOP), not a folder, unreadable
        raise NotVerified(
            f"{sha256}: cannot be opened in the evidence store: {exc.strerror}"
        ) from None
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - returned
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise NotVerified(f"{sha256}: not a regular file in the evidence store")
            h = hashlib.sha256()
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
                spool.write(chunk)
        if h.hexdigest() != sha256:
            raise NotVerified(
                f"{sha256}: altered in the evidence store (it hashes to {h.hexdigest()}); "
                "re-import its assessment's file to put it back"
            )
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def chunks(spool: IO[bytes]) -> Iterator[bytes]:
    """The copy's bytes, then it is closed."""
    try:
        while chunk := spool.read(_CHUNK):
            yield chunk
    finally:
        spool.close()


def attachment(name: str) -> str:
    """A Content-Disposition naming the file as recorded, safely (RFC 6266 / 5987)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1] or "evidence"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:150] or "evidence"
    from urllib.parse import quote

    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base[:200], safe='')}"
