"""Content-addressed evidence store: files kept by SHA-256, written atomically, never altered."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import tempfile
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
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileDigest(h.hexdigest(), size, media_type)


def default_store_dir(engine: Engine) -> Path:
    """Beside the SQLite database file; for a server database, ./evidence-store."""
    env = os.environ.get("COMPLIANCE_EVIDENCE_DIR")
    if env:
        return Path(env)
    url = make_url(engine.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        return db.with_name(db.name + ".evidence")
    return Path("evidence-store")


class EvidenceStore:
    """Files stored under `root/ab/cdef...` by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, source: Path, expected: FileDigest, *, sync: bool = True) -> bool:
        """Copy `source` in unless already present; the copy must hash to `expected`.

        Returns True when a new file was written. With sync=False the caller makes the new
        files durable itself (one os.sync() for a whole import) before anything points to them.
        """
        target = self.path_for(expected.sha256)
        if target.is_file():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as fh:
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
