"""Content-addressed evidence store: files kept by SHA-256, written atomically, never altered."""

from __future__ import annotations

import errno
import hashlib
import itertools
import mimetypes
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from compliance.errors import ComplianceError
from compliance.store.models import Base

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


def _sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


INCOMING_PREFIX = ".incoming-"
_HEX = re.compile(r"[0-9a-f]+")


STORE_MARKER = ".compliance-store"
_MARKER_FORMAT = "compliance-evidence-store/1"


class EvidenceStore:
    """Files stored under `root/ab/cdef...` by their SHA-256, and a marker file naming the store.

    A stored file is trusted only once it has been hashed again: `put` replaces a copy that no
    longer hashes to its name, and `read_verified` refuses one.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._intact: set[str] = set()  # hashed again by this object and found whole
        self.restored: list[str] = []  # altered copies `put` replaced

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

    def intact(self, sha256: str) -> bool:
        """True when the stored file exists and still hashes to its name."""
        if sha256 in self._intact:
            return True
        try:
            ok = _sha256_of(self._place(sha256)[1]) == sha256
        except OSError:
            return False
        if ok:
            self._intact.add(sha256)
        return ok

    def put(self, source: Path, expected: FileDigest, *, sync: bool = True) -> bool:
        """Copy `source` in unless already present; the copy must hash to `expected`.

        Returns True when a new file was written. With sync=False the caller makes the new
        files durable itself (one os.sync() for a whole import) before anything points to them.
        """
        folder, target = self._place(expected.sha256)
        if os.path.isfile(target):
            if self.intact(expected.sha256):
                return False
            self.restored.append(expected.sha256)  # altered in the store: replaced below
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
        self._intact.add(expected.sha256)
        return True

    def open(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def contents(self) -> Iterator[tuple[str, Path]]:
        """Every file in the store: ("blob", path) under its hash, ("incoming", path) for a
        temporary file an interrupted copy left, ("other", path) for anything else."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                yield "other", folder
                continue
            for path in sorted(folder.iterdir()):
                name = path.name
                if name.startswith(INCOMING_PREFIX) and path.is_file():
                    yield "incoming", path
                elif (
                    len(folder.name) == 2
                    and len(name) == 62
                    and _HEX.fullmatch(folder.name + name)
                    and path.is_file()
                    and not path.is_symlink()
                ):
                    yield "blob", path


def _blob_columns() -> list[tuple[str, str | None]]:
    """(hash column, name column) of every evidence column naming a stored file: `sha256`, and
    any `X_sha256` (with `X_name` where the table has it)."""
    table = Base.metadata.tables["evidence"]
    found: list[tuple[str, str | None]] = []
    for column in table.columns:
        if column.name == "sha256":
            found.append((column.name, "file_name"))
        elif column.name.endswith("_sha256"):
            name = column.name[: -len("_sha256")] + "_name"
            found.append((column.name, name if name in table.c else None))
    return found


def referenced_blobs(session: Session) -> dict[str, list[str]]:
    """Every stored file the database points to, by SHA-256, with who points to it
    (`DEPLOYMENT/ASSESSMENT: name`)."""
    t = Base.metadata.tables
    ev, res, asm, dep = t["evidence"], t["results"], t["assessments"], t["deployments"]
    out: dict[str, list[str]] = {}
    for sha_column, name_column in _blob_columns():
        name = ev.c[name_column] if name_column else ev.c[sha_column]
        rows = session.execute(
            select(ev.c[sha_column], dep.c.key, asm.c.key, name)
            .join(res, res.c.id == ev.c.result_id)
            .join(asm, asm.c.id == res.c.assessment_id)
            .join(dep, dep.c.id == asm.c.deployment_id)
            .where(ev.c[sha_column].is_not(None))
            .order_by(dep.c.key, asm.c.key, res.c.position, ev.c.position)
        ).all()
        for sha, dkey, akey, label in rows:
            out.setdefault(sha, []).append(f"{dkey}/{akey}: {label}")
    return out


@dataclass
class StoreCheck:
    checked: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # sha -> who points to it
    altered: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # sha -> (found, who)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.altered


def check_store(session: Session, store: EvidenceStore) -> StoreCheck:
    """Hash again every stored file the database points to; name the missing and altered ones."""
    report = StoreCheck()
    for sha, users in sorted(referenced_blobs(session).items()):
        report.checked += 1
        path = store.path_for(sha)
        try:
            found = _sha256_of(path)
        except FileNotFoundError:
            report.missing[sha] = users
            continue
        except OSError as exc:
            report.altered[sha] = (f"unreadable: {exc.strerror}", users)
            continue
        if found != sha:
            report.altered[sha] = (found, users)
    return report


@dataclass
class Collected:
    blobs: list[Path] = field(default_factory=list)
    incoming: list[Path] = field(default_factory=list)
    bytes: int = 0


def collect_garbage(session: Session, store: EvidenceStore, *, dry_run: bool = False) -> Collected:
    """Remove the stored files nothing points to and the temporary files interrupted copies left.

    Run it in a writer's transaction (`store.db.transaction`): importers hold the same lock from
    before they copy their first file until the rows pointing to them commit, so no import is
    under way while the references are read and the store is swept, and a file an import is
    about to point to is never taken for garbage.
    """
    referenced = set(referenced_blobs(session))  # the first statement takes the writers' lock
    found = Collected()
    for kind, path in list(store.contents()):
        if kind == "blob":
            if path.parent.name + path.name in referenced:
                continue
            found.blobs.append(path)
        elif kind == "incoming":
            found.incoming.append(path)
        else:
            continue
        try:
            found.bytes += path.stat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            pass
    return found
