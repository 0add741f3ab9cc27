"""Writing a file the user named (`-o`): whole or not at all, never through a planted link, never
over the database, the evidence store or one of the command's own inputs.

Every report, pack and export goes through `replacing()` (or `write_bytes()`): the content is
written to a new temporary file in the target's folder, created with O_EXCL | O_NOFOLLOW under
an unpredictable name (so nothing already there, file or link, is opened or followed), flushed
to disk, then renamed over the target. A rename replaces a link at the target rather than
following it. Before anything is written, `Protected.check()` refuses a target that resolves to
something the command must never replace.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import URL, make_url

from compliance.errors import ComplianceError

_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass(frozen=True)
class Protected:
    """Files and folders an output must never replace or land in, each with what it is."""

    files: tuple[tuple[Path, str], ...] = ()
    folders: tuple[tuple[Path, str], ...] = ()

    def refusal(self, out: Path) -> str | None:
        """Why `out` may not be written, or None."""
        target = _resolved(out)
        if target.is_dir():
            return f"refusing to write {out}: it is a folder"
        for path, what in self.files:
            if target == _resolved(path) or _same_file(out, path):
                return f"refusing to write {out}: it is {what} ({path})"
        for folder, what in self.folders:
            root = _resolved(folder)
            if target == root or target.is_relative_to(root):
                return f"refusing to write {out}: it is inside {what} ({folder})"
        return None

    def check(self, out: Path) -> None:
        """Raise ComplianceError when `out` may not be written."""
        problem = self.refusal(out)
        if problem is not None:
            raise ComplianceError(problem)

    def check_folder(self, folder: Path) -> None:
        """Raise ComplianceError when files may not be written into `folder`."""
        target = _resolved(folder)
        for root, what in self.folders:
            base = _resolved(root)
            if target == base or target.is_relative_to(base):
                raise ComplianceError(
                    f"refusing to write into {folder}: it is inside {what} ({root})"
                )


def database_files(url: str | URL) -> list[Path]:
    """The files of a SQLite database (the file and its -wal, -shm and -journal); none for a
    server database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return []
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return []
    main = Path(parsed.database)
    return [main, *(main.with_name(main.name + suffix) for suffix in SQLITE_SIDE_FILES)]


def protected(
    db_url: str | URL | None,
    evidence_root: Path | None,
    input_files: Iterable[tuple[Path, str]] = (),
    input_folders: Iterable[tuple[Path, str]] = (),
) -> Protected:
    """What a command's outputs must not touch: the database's files, the evidence store and
    the command's inputs (each given with a description, e.g. `the policy file`)."""
    files = [(p, "the database in use") for p in (database_files(db_url) if db_url else [])]
    files += list(input_files)
    folders = list(input_folders)
    if evidence_root is not None:
        folders.append((evidence_root, "the evidence store"))
    return Protected(tuple(files), tuple(folders))


def _temp_name(name: str) -> str:
    # The target's name (shortened to stay within NAME_MAX), then 128 random bits.
    return f".{name[:180]}.{secrets.token_hex(16)}.tmp"


@contextmanager
def replacing(out: Path, guard: Protected | None = None) -> Iterator[BinaryIO]:
    """A binary file to write `out`'s new content to; on success it replaces `out` at once.

    On any error the temporary file is removed and `out` is left as it was.
    """
    if guard is not None:
        guard.check(out)
    folder = out.parent if str(out.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        raise ComplianceError(f"cannot write {out}: {exc.strerror or exc}") from None
    temp = ""
    try:
        fd = _create_temp(dir_fd, out, folder)
        temp = fd[1]
        with os.fdopen(fd[0], "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.replace(temp, out.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            raise ComplianceError(f"cannot write {out}: {exc.strerror or exc}") from None
        temp = ""
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        if temp:
            with suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=dir_fd)
        os.close(dir_fd)


def _create_temp(dir_fd: int, out: Path, folder: Path) -> tuple[int, str]:
    for _attempt in range(16):
        name = _temp_name(out.name)
        try:
            return os.open(name, _TEMP_FLAGS, 0o666, dir_fd=dir_fd), name
        except FileExistsError:
            continue  # 128 random bits: only a file planted under this very name
        except OSError as exc:
            raise ComplianceError(f"cannot write {out}: {exc.strerror or exc}") from None
    raise ComplianceError(f"cannot write {out}: no free temporary name in {folder}")


def write_bytes(out: Path, data: bytes, guard: Protected | None = None) -> None:
    """Replace `out` with `data`, through `replacing()`."""
    with replacing(out, guard) as fh:
        fh.write(data)
