"""Imports over HTTP: the uploaded files are laid out in a private folder as they were named,
then imported by the CLI's importer (`import_paths`), all or nothing, in one transaction, with
the same messages, file names given as the upload named them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import FormData, UploadFile

from compliance.errors import InvalidInput, Problem
from compliance.importer.core import import_paths
from compliance.store import audit
from compliance.textsafe import is_clean
from compliance.web import accounts
from compliance.web.accounts import Account
from compliance.web.portal import Portal

MAX_DEPTH = 32
MAX_PATH = 1000
_CHUNK = 1024 * 1024
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _relative(name: str, field: str) -> list[str] | str:
    """The parts of an upload's file name, a relative path; or why it is refused."""
    if not name:
        return f"{field}: a file without a name"
    if len(name) > MAX_PATH or not is_clean(name) or "\\" in name or "\x00" in name:
        return f"{field}: {name[:80]!r} is not a usable file name"
    if name.startswith("/"):
        return f"{field}: {name!r} is absolute; name files relative to the assessment document"
    parts = name.split("/")
    if len(parts) > MAX_DEPTH or any(p in ("", ".", "..") or len(p) > 255 for p in parts):
        return f"{field}: {name!r} leaves its folder or has an empty part"
    return parts


def _save(root: Path, parts: list[str], upload: UploadFile) -> Path:
    target = root.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, _FLAGS, 0o600)
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        while chunk := upload.file.read(_CHUNK):
            out.write(chunk)
    return target


def lay_out(root: Path, form: FormData) -> list[Path]:
    """Write the form's `document`, `evidence` and `files` uploads under `root`; return what
    to import: the documents, or with `files` (a folder as a browser sends it) the folder."""
    problems: list[Problem] = []
    documents: list[Path] = []
    folder_upload = False
    taken: set[str] = set()
    for field in ("document", "evidence", "files"):
        for value in form.getlist(field):
            if not isinstance(value, UploadFile):
                problems.append(Problem("request", field, "expected a file upload"))
                continue
            parts = _relative(value.filename or "", field)
            if isinstance(parts, str):
                problems.append(Problem("request", field, parts))
                continue
            joined = "/".join(parts)
            if joined in taken:
                problems.append(Problem("request", field, f"{joined!r} uploaded twice"))
                continue
            taken.add(joined)
            try:
                path = _save(root, parts, value)
            except OSError as exc:
                problems.append(Problem("request", field, f"{joined!r}: {exc.strerror}"))
                continue
            if field == "document":
                documents.append(path)
            elif field == "files":
                folder_upload = True
    if problems:
        raise InvalidInput(problems)
    if folder_upload:
        return [root, *documents]
    if not documents:
        raise InvalidInput([Problem("request", "document", "no assessment document uploaded")])
    return documents


def _relabelled(exc: InvalidInput, root: Path) -> InvalidInput:
    prefix = f"{root}{os.sep}"

    def strip(text: str) -> str:
        return text.replace(prefix, "").replace(str(root), ".")

    return InvalidInput(Problem(strip(p.file), p.location, strip(p.message)) for p in exc.problems)


def run_import(portal: Portal, account: Account, form: FormData) -> dict[str, Any]:
    """Import the uploaded files as `compliance import` would, acting as `account`."""
    root = Path(tempfile.mkdtemp(prefix="compliance-upload-"))
    try:
        paths = lay_out(root, form)
        store = portal.app.evidence_store()
        try:
            with (
                audit.acting_as(accounts.actor_name(account.name)),
                portal.app.session() as session,
            ):
                report = import_paths(session, store, paths)
        except InvalidInput as exc:
            raise _relabelled(exc, root) from None

        def rel(labels: list[str]) -> list[str]:
            return [label.replace(f"{root}{os.sep}", "") for label in labels]

        return dict(
            imported=rel(report.imported),
            replaced=rel(report.replaced),
            restored=rel(report.restored),
            unchanged=rel(report.unchanged),
            skipped=rel(report.skipped),
            evidence_files=report.evidence_files,
            evidence_restored=report.evidence_restored,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def import_form(portal: Portal, account: Account, form: FormData) -> dict[str, Any]:
    """`run_import` for the import page: problems are shown on the page, not as an error."""
    try:
        return dict(ok=True, **run_import(portal, account, form))
    except InvalidInput as exc:
        return dict(ok=False, problems=[str(p) for p in exc.problems])
