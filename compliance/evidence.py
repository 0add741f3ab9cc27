"""Content-addressed evidence store: files kept by SHA-256, written atomically, never altered."""

from __future__ import annotations

import errno
import hashlib
import itertools
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from compliance.errors import ComplianceError

MAX_EVIDENCE_BYTES = 512 * 1024 * 1024
for _suffix, _type in (
    (".yaml", "application/yaml"),
    (".yml", "application/yaml"),
    (".md", "text/markdown"),
    (".csv", "text/csv"),
    (".json", "application/json"),
    (".log", "text/plain"),
):
    mimetypes.add_type(_type, _suffix)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int
    media_type: str


def digest(path: Path, limit: int = MAX_EVIDENCE_BYTES) -> FileDigest:
    """Hash a file in chunks; refuse one over `limit` bytes."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ComplianceError(
                    f"{path}: evidence file is larger than the limit of {limit} bytes"
                )
            h.update(chunk)
    return FileDigest(h.hexdigest(), size, media_type(path.name))


def media_type(name: str) -> str:
    """The media type a file name suggests, or the generic one for bytes."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def default_store_dir(engine: Engine) -> Path:
    """Beside the SQLite database file; for a server database, ./evidence-store (the command
    line uses the folder the database recorded instead, see `store.identity`)."""
    env = os.environ.get("COMPLIANCE_EVIDENCE_DIR")
    if env:
        return Path(env)
    url = make_url(engine.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".evidence")
    return Path("evidence-store")


_INCOMING_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_incoming_serial = itertools.count()


def _incoming(folder: str) -> tuple[int, str]:
    """Create and open a new, private temporary file in `folder` (made if missing).

    Cheaper than tempfile.mkstemp, which matters with thousands of small evidence files: the name
    is unique by process, a counter and a random part, and O_EXCL makes sure that no existing
    file is ever opened or replaced.
    """
    for _attempt in range(100):
        name = os.path.join(
            folder, f".incoming-{os.getpid()}-{next(_incoming_serial)}-{os.urandom(4).hex()}"
        )
        try:
            return os.open(name, _INCOMING_FLAGS, 0o600), name
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
        except FileExistsError:
            pass  # left by an earlier run; the next name differs
    raise FileExistsError(errno.EEXIST, "no free name for a temporary file", folder)


STORE_MARKER = ".compliance-store"
_MARKER_FORMAT = "compliance-evidence-store/1"


class EvidenceStore:
    """Files stored under `root/ab/cdef...` by their SHA-256, and a marker file naming the store."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def store_id(self) -> str | None:
        """The store's random id (its marker file), or None when it has none yet."""
        try:
            with open(os.path.join(self.root, STORE_MARKER), "rb") as fh:
                text = fh.read(4096).decode("ascii", "replace")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ComplianceError(f"cannot read the evidence store {self.root}: {exc}") from None
        lines = text.split()
        if len(lines) != 2 or lines[0] != _MARKER_FORMAT or len(lines[1]) != 32:
            raise ComplianceError(
                f"{os.path.join(self.root, STORE_MARKER)} is not an evidence store marker"
            )
        return lines[1]

    def ensure_store_id(self) -> str:
        """The store's id, given it now (folder and marker made) if it has none."""
        found = self.store_id()
        if found is not None:
            return found
        new = os.urandom(16).hex()
        fd, tmp_name = _incoming(str(self.root))
        try:
            with open(fd, "w", encoding="ascii") as fh:
                fh.write(f"{_MARKER_FORMAT}\n{new}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o444)
            # A link appears whole or not at all and never replaces a marker already there.
            os.link(tmp_name, os.path.join(self.root, STORE_MARKER))
        except FileExistsError:  # another process gave the store its id first
            found = self.store_id()
            assert found is not None
            return found
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return new

    def _place(self, sha256: str) -> tuple[str, str]:
        """(folder, file) of a blob, as plain strings: `put` runs once per evidence file."""
        folder = os.path.join(self.root, sha256[:2])
        return folder, os.path.join(folder, sha256[2:])

    def path_for(self, sha256: str) -> Path:
        return Path(self._place(sha256)[1])

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, source: Path, expected: FileDigest, *, sync: bool = True) -> bool:
        """Copy `source` in unless already present; the copy must hash to `expected`.

        Returns True when a new file was written. With sync=False the caller makes the new
        files durable itself (one os.sync() for a whole import) before anything points to them.
        """
        folder, target = self._place(expected.sha256)
        if os.path.isfile(target):
            return False
        h = hashlib.sha256()
        fd, tmp_name = _incoming(folder)
        try:
            with open(fd, "wb") as out, open(source, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                if sync:
                    os.fsync(out.fileno())
            if h.hexdigest() != expected.sha256:
                raise ComplianceError(
                    f"{source}: evidence file changed while it was being imported"
                )
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return True

    def open(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()
