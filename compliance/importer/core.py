"""Import assessment files. Everything is validated before anything is written, and one call is
one transaction: a single bad file means nothing from any file is stored."""

from __future__ import annotations

import gc
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import dates, oscal
from compliance.documents import parse_document, read_bounded
from compliance.errors import ComplianceError, InvalidInput, Problem
from compliance.evidence import MAX_EVIDENCE_BYTES, EvidenceStore, FileDigest, digest, media_type
from compliance.gate import Acceptance, Profile, Tool, acceptance_problem, tier_of
from compliance.importer.schema import AssessmentDoc
from compliance.importer.writer import limit_problems, write_batch
from compliance.policy import Policy
from compliance.store import audit, identity
from compliance.store.catalog_store import current_catalog_ids, current_policy
from compliance.store.models import (
    Assessment,
    Catalog,
    Check,
    Control,
    Deployment,
    Evidence,
    Result,
)
from compliance.validation import validate

SUFFIXES = {".yaml", ".yml", ".json"}
MAX_FILES = 100_000


@dataclass
class PreparedEvidence:
    kind: str
    file_name: str | None
    path: Path | None
    digest: FileDigest | None
    url: str | None
    description: str | None
    collected: date | None = None
    # A link's snapshot: the file holding what it showed.
    snapshot_name: str | None = None
    snapshot_path: Path | None = None
    snapshot: FileDigest | None = None


@dataclass
class Prepared:
    label: str
    doc: AssessmentDoc
    fingerprint: str
    evidence: list[list[PreparedEvidence]]
    profile: dict[str, Any]  # the deployment block as JSON values, stored with the assessment
    document: bytes | None = None  # the file's exact bytes, kept for audit packs


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    evidence_files: int = 0  # references to evidence files (and link snapshots) written
    evidence_new: int = 0  # of which files the store did not hold yet
    evidence_distinct: set[str] = field(default_factory=set)
    # Drafts whose rows had been changed outside the tool, rewritten from their unchanged file.
    restored: list[str] = field(default_factory=list)
    # Evidence files put back into the store because their copy there was missing or altered.
    evidence_restored: int = 0


def _candidates(folder: Path, found: list[Path]) -> None:
    """Add the files under `folder` that may be assessments. `evidence` folders, dot-entries and
    linked folders are not entered (evidence folders hold thousands of files never imported)."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except PermissionError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if name != "evidence":
                _candidates(folder / name, found)
        elif os.path.splitext(name)[1].lower() in SUFFIXES and entry.is_file():
            found.append(folder / name)


def collect(paths: Sequence[Path]) -> tuple[list[Path], list[str], list[Problem]]:
    """Expand folders into candidate files (sorted); `evidence` folders and dot-entries are skipped."""
    files: list[Path] = []
    skipped: list[str] = []
    problems: list[Problem] = []
    for p in paths:
        if p.is_dir():
            found: list[Path] = []
            _candidates(p, found)
            files.extend(sorted(found))
        elif p.exists():
            files.append(p)
        else:
            problems.append(Problem(str(p), "", "no such file or folder"))
        if len(files) > MAX_FILES:
            problems.append(Problem(str(p), "", f"more than {MAX_FILES} files in one import"))
            break
    return files, skipped, problems


class _References:
    """Lookups of the current checks and assessable controls, loaded once per import."""

    def __init__(self, session: Session) -> None:
        ids = current_catalog_ids(session)
        self.catalog_ids = ids
        self.checks: dict[str, int] = dict(
            session.execute(
                select(Check.key, Check.id)
                .join(Catalog, Catalog.id == Check.catalog_id)
                .where(Catalog.id.in_(ids))
            ).all()
        )
        self.frameworks: set[str] = set(
            session.execute(
                select(Catalog.key).where(Catalog.id.in_(ids), Catalog.kind == "framework")
            ).scalars()
        )
        self._by_id: dict[str, list[tuple[str, bool]]] | None = None
        self.controls: dict[str, tuple[int, bool]] = {
            f"{key}/{ref}": (pk, assessable)
            for key, ref, pk, assessable in session.execute(
                select(Catalog.key, Control.ref, Control.id, Control.assessable)
                .join(Catalog, Catalog.id == Control.catalog_id)
                .where(Catalog.id.in_(ids))
            )
        }

    def resolve_target(self, target_id: str) -> tuple[str, str] | str:
        """The check or control an OSCAL target id of another tool names: a check id, or a
        control of a loaded catalog by its ref or OSCAL id (a statement or objective id,
        `ID_smt...` / `ID_obj...`, names its control), exactly, else ignoring case; or why not."""
        if target_id in self.checks:
            return ("check", target_id)
        if self._by_id is None:
            from compliance.oscal.common import token

            self._by_id = {}
            for path, (_pk, assessable) in self.controls.items():
                framework, _, ref = path.partition("/")
                if framework not in self.frameworks:
                    continue
                for key in {ref, token(ref)}:
                    self._by_id.setdefault(key, []).append((path, assessable))
        control_id = re.sub(r"_(smt|obj)([._].*)?$", "", target_id)
        found = self._by_id.get(control_id)
        if not found:
            lower = control_id.lower()
            found = [x for key, paths in self._by_id.items() if key.lower() == lower for x in paths]
        found = list(dict.fromkeys(found))
        if len(found) == 1:
            path, assessable = found[0]
            if not assessable:
                return (
                    f"target-id {target_id!r} names {path}, a grouping, not an assessable control"
                )
            return ("control", path)
        if len(found) > 1:
            names = ", ".join(sorted(p for p, _a in found))
            return (
                f"target-id {target_id!r} matches controls of more than one catalog ({names}); "
                "it cannot be told which one was assessed"
            )
        return (
            f"target-id {target_id!r} names no check and no control of a loaded catalog "
            f"(frameworks: {', '.join(sorted(self.frameworks))}); load the catalog the document "
            "assessed with --catalog-dir (an OSCAL catalog loads as it is)"
        )

    def control_problem(self, ref: str) -> str | None:
        framework, _, local = ref.partition("/")
        if framework not in self.frameworks:
            return f"unknown framework {framework!r} (known: {', '.join(sorted(self.frameworks))})"
        found = self.controls.get(ref)
        if found is None:
            return f"unknown control {local!r} in framework {framework}"
        if not found[1]:
            return f"{ref} is a grouping, not an assessable control"
        return None


class _Folders:
    """What is known of the folders evidence is read from, for the duration of one import.

    Resolving a path costs a system call per component; the assessment folders are resolved
    once each, and so is every plain folder (not a link) below them that evidence lies in.
    """

    def __init__(self) -> None:
        self.roots: dict[Path, str] = {}
        self.plain: set[str] = set()

    def root(self, base: Path) -> str:
        """`base` resolved. Sibling folders share their parent's resolution: a folder that is
        not a link resolves to its resolved parent plus its own name."""
        found = self.roots.get(base)
        if found is None:
            parent = base.parent
            if base.name in ("", ".", "..") or parent == base or not self._plain_dir(base):
                found = os.path.realpath(base)
            else:
                found = os.path.join(self.root(parent), base.name)
            self.roots[base] = found
        return found

    @staticmethod
    def _plain_dir(path: Path | str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            return False

    def plain_file(self, base: Path, parts: tuple[str, ...]) -> Path | None:
        """The resolved path of base/parts when no step is a link or `..` and it ends at a
        regular file, so that it is inside `base` as written; None when it takes a closer look."""
        if not parts or ".." in parts:
            return None
        path = self.root(base)
        for part in parts[:-1]:
            path = os.path.join(path, part)
            if path not in self.plain:
                if not self._plain_dir(path):
                    return None
                self.plain.add(path)
        path = os.path.join(path, parts[-1])
        try:
            return Path(path) if stat.S_ISREG(os.lstat(path).st_mode) else None
        except OSError:
            return None


def _absolute(name: str) -> bool:
    """Absolute here, or on Windows (a drive letter or a leading backslash)."""
    return (
        Path(name).is_absolute()
        or name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
    )


def _inside(base: Path, name: str, folders: _Folders | None = None) -> Path | str:
    """Resolve an evidence path relative to `base`, or say why it is refused."""
    if "\x00" in name:
        return "evidence path contains a NUL character"
    raw = Path(name)
    if _absolute(name):
        return f"evidence path {name!r} is absolute; give it relative to the assessment file"
    if folders is not None:
        plain = folders.plain_file(base, raw.parts)
        if plain is not None:
            return plain  # the common case, without resolving every component of the path
    candidate = base / raw
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        return f"evidence file {name!r} does not exist (looked in {base})"
    except (OSError, RuntimeError) as exc:
        return f"evidence file {name!r} cannot be resolved: {exc}"
    root = base.resolve()
    if not resolved.is_relative_to(root):
        lexical = Path(os.path.normpath(root / raw))
        if lexical.is_relative_to(root):
            return f"evidence file {name!r} is reached through a link that leaves the assessment file's folder"
        return f"evidence file {name!r} is outside the assessment file's folder"
    if not resolved.is_file():
        return f"evidence path {name!r} is not a regular file"
    return resolved


def _missing_inside(base: Path, name: str) -> bool:
    """True when `name` is a relative path inside `base` at which nothing exists."""
    raw = Path(name)
    if "\x00" in name or _absolute(name):
        return False
    root = base.resolve()
    if not Path(os.path.normpath(root / raw)).is_relative_to(root):
        return False
    return not os.path.lexists(base / raw)


class _Claims:
    """Which files a deployment's earlier assessments reference, for evidence claimed by hash.

    A file named with its sha256 but not beside the document resolves to the store's copy only
    when an earlier assessment of the same deployment references that file: a document cannot
    take another deployment's file into its own assessment (and its pack), nor learn from the
    answer whether some file is in the store.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[str, set[str]] = {}

    def referenced(self, deployment: str, sha256: str) -> bool:
        found = self.known.get(deployment)
        if found is None:
            found = {
                sha
                for sha in self.session.execute(
                    select(Evidence.sha256)
                    .join(Result, Result.id == Evidence.result_id)
                    .join(Assessment, Assessment.id == Result.assessment_id)
                    .join(Deployment, Deployment.id == Assessment.deployment_id)
                    .where(Deployment.key == deployment, Evidence.kind == "file")
                    .distinct()
                ).scalars()
                if sha is not None
            }
            self.known[deployment] = found
        return sha256 in found


def _stored(
    store: EvidenceStore | None,
    base: Path,
    name: str,
    sha256: str,
    claim: Callable[[str], bool] | None = None,
) -> FileDigest | str | None:
    """The store's blob for a named file that is not there but was imported before (for the
    same deployment, when `claim` says so), or why the store's copy cannot serve (it no longer
    hashes to `sha256`)."""
    if store is None or not _missing_inside(base, name):
        return None
    if claim is not None and not claim(sha256):
        return None
    if not store.has(sha256):
        return None
    try:
        found = digest(store.path_for(sha256))
    except (OSError, ComplianceError) as exc:
        return (
            f"is not beside the document and the evidence store's copy of sha256 {sha256} "
            f"cannot be read: {exc}"
        )
    if found.sha256 != sha256:
        return (
            f"is not beside the document and the evidence store's copy of sha256 {sha256} "
            f"was altered (it hashes to {found.sha256}); put the file back beside the document"
        )
    return FileDigest(sha256, found.size, media_type(Path(name).name))


def _evidence_file(
    base: Path,
    name: str,
    sha256: str | None,
    store: EvidenceStore | None,
    folders: _Folders | None,
    claim: Callable[[str], bool] | None = None,
    deployment: str | None = None,
) -> tuple[Path | None, FileDigest] | str:
    """The file an evidence entry names, hashed (or the store's blob of a file named by hash that
    is no longer beside the document and that the same deployment referenced before), or why it
    is refused."""
    where = _inside(base, name, folders)
    if isinstance(where, str) and sha256 is not None:
        stored = _stored(store, base, name, sha256, claim)
        if isinstance(stored, str):
            return f"evidence file {name!r} {stored}"
        if stored is not None:
            return None, stored
        if _missing_inside(base, name):
            # The same words whether or not the store holds such a file.
            where += f" and no evidence file with sha256 {sha256} was imported before" + (
                f" for deployment {deployment}" if deployment else ""
            )
    if isinstance(where, str):
        return where
    try:
        d = digest(where, MAX_EVIDENCE_BYTES)
    except ComplianceError:
        return f"evidence file is larger than {MAX_EVIDENCE_BYTES} bytes"
    except OSError as exc:
        return f"evidence file cannot be read: {exc.strerror}"
    if sha256 is not None and d.sha256 != sha256:
        return f"evidence file changed: expected sha256 {sha256}, found {d.sha256}"
    return where, d


def _prepare_evidence(
    doc: AssessmentDoc,
    base: Path,
    label: str,
    problems: list[Problem],
    store: EvidenceStore | None = None,
    folders: _Folders | None = None,
    claims: _Claims | None = None,
) -> list[list[PreparedEvidence]]:
    out: list[list[PreparedEvidence]] = []
    dep = doc.deployment.id

    def claim(sha256: str) -> bool:
        return claims is None or claims.referenced(dep, sha256)

    for i, result in enumerate(doc.assessment.results):
        items: list[PreparedEvidence] = []
        for j, ev in enumerate(result.evidence):
            loc = f"assessment.results[{i}].evidence[{j}]"
            if ev.url is not None:
                item = PreparedEvidence(
                    "url", None, None, None, ev.url, ev.description, ev.collected
                )
                if ev.snapshot is not None:
                    found = _evidence_file(base, ev.snapshot, None, store, folders)
                    if isinstance(found, str):
                        problems.append(Problem(label, f"{loc}.snapshot", found))
                        continue
                    item.snapshot_name, (item.snapshot_path, item.snapshot) = ev.snapshot, found
                items.append(item)
                continue
            assert ev.file is not None
            found = _evidence_file(base, ev.file, ev.sha256, store, folders, claim, dep)
            if isinstance(found, str):
                problems.append(Problem(label, f"{loc}.file", found))
                continue
            path, d = found
            items.append(
                PreparedEvidence("file", ev.file, path, d, None, ev.description, ev.collected)
            )
        out.append(items)
    return out


def _date_problems(doc: AssessmentDoc, label: str, today: date) -> Iterable[Problem]:
    """Dates that cannot be true on the day of import: a record dated after it."""
    a = doc.assessment
    after = f"is after the day of import ({today.isoformat()}, UTC); a record cannot be dated in the future"
    if a.date > today:
        yield Problem(label, "assessment.date", f"{a.date.isoformat()} {after}")
    for i, r in enumerate(a.results):
        if r.tested_on is not None and r.tested_on > today:
            yield Problem(
                label, f"assessment.results[{i}].tested_on", f"{r.tested_on.isoformat()} {after}"
            )
        for j, ev in enumerate(r.evidence):
            if ev.collected is not None and ev.collected > today:
                yield Problem(
                    label,
                    f"assessment.results[{i}].evidence[{j}].collected",
                    f"{ev.collected.isoformat()} {after}",
                )
    for i, acc in enumerate(a.acceptances):
        if acc.approved_on is not None and acc.approved_on > today:
            yield Problem(
                label,
                f"assessment.acceptances[{i}].approved_on",
                f"{acc.approved_on.isoformat()} {after}",
            )


def _profile_of(doc: AssessmentDoc) -> Profile:
    d = doc.deployment
    return Profile(
        tools=None if d.tools is None else tuple(Tool(t.name, t.access) for t in d.tools),
        data=None if d.data is None else tuple(d.data),
        authority=tuple(d.authority),
        autonomy=d.autonomy,
        customer_facing=d.customer_facing,
        audit_logging=d.audit.logging if d.audit else None,
        memory=d.memory,
        agents=None if d.agents is None else tuple(d.agents),
    )


def _acceptance_problems(doc: AssessmentDoc, label: str, policy: Policy) -> Iterable[Problem]:
    """Risk acceptances the policy in force does not allow for this deployment's tier."""
    if not doc.assessment.acceptances:
        return
    tier, _why = tier_of(_profile_of(doc), policy)
    for i, acc in enumerate(doc.assessment.acceptances):
        problem = acceptance_problem(
            Acceptance(acc.check, acc.approved_by, acc.justification, acc.expires, acc.approved_on),
            tier,
            policy,
            doc.assessment.date,
            doc.assessment.assessor,
        )
        if problem is not None:
            yield Problem(
                label, f"assessment.acceptances[{i}]", f"refused by the policy: {problem}"
            )


# Fields added to the format after its first version: a file without them keeps the
# fingerprint it had, so re-importing it changes nothing.
OPTIONAL_EVIDENCE_FIELDS = ("sha256", "collected", "snapshot")
OPTIONAL_RESULT_FIELDS = (
    "method",
    "tested_by",
    "tested_on",
    "population",
    "sample",
    "exceptions",
    "remediation",
)
OPTIONAL_ACCEPTANCE_FIELDS = ("approved_on", "approver_role", "compensating_controls")
OPTIONAL_DEPLOYMENT_FIELDS = ("memory", "agents")


def _drop_unset(value: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if not (k in keys and v is None)}


def _fingerprint(dumped: dict[str, Any], evidence: list[list[PreparedEvidence]]) -> str:
    """SHA-256 of the validated document (`doc.model_dump(mode="json")`) and of the evidence it
    names. Stored, and compared on every later import."""
    a = dumped["assessment"]
    body_doc = dict(
        dumped,
        deployment=_drop_unset(dumped["deployment"], OPTIONAL_DEPLOYMENT_FIELDS),
        assessment=dict(
            a,
            results=[
                dict(
                    _drop_unset(r, OPTIONAL_RESULT_FIELDS),
                    evidence=[_drop_unset(ev, OPTIONAL_EVIDENCE_FIELDS) for ev in r["evidence"]],
                )
                for r in a["results"]
            ],
            acceptances=[_drop_unset(x, OPTIONAL_ACCEPTANCE_FIELDS) for x in a["acceptances"]],
        ),
    )
    body = {
        "doc": body_doc,
        "evidence": [
            [
                (e.digest.sha256 if e.digest else e.url)
                if e.snapshot is None
                else [e.url, e.snapshot.sha256]
                for e in items
            ]
            for items in evidence
        ],
    }
    return hashlib.sha256(audit.canonical(body).encode("utf-8")).hexdigest()


def _check_references(doc: AssessmentDoc, refs: _References, label: str) -> Iterable[Problem]:
    for i, r in enumerate(doc.assessment.results):
        if r.check is not None and r.check not in refs.checks:
            yield Problem(label, f"assessment.results[{i}].check", f"unknown check {r.check!r}")
        if r.control is not None:
            msg = refs.control_problem(r.control)
            if msg:
                yield Problem(label, f"assessment.results[{i}].control", msg)
    for i, a in enumerate(doc.assessment.acceptances):
        if a.check not in refs.checks:
            yield Problem(label, f"assessment.acceptances[{i}].check", f"unknown check {a.check!r}")


def prepare(
    session: Session,
    paths: Sequence[Path],
    refs: _References,
    store: EvidenceStore | None = None,
    policy: Policy | None = None,
    profile: dict[str, Any] | None = None,
) -> tuple[list[Prepared], list[str]]:
    """Read and validate every file; raise InvalidInput with every problem, or return the batch.

    With `policy`, risk acceptances it does not allow are refused too. `profile` (the
    `--profile` file) gives what a document from another tool or a CSV table lacks."""
    today = dates.today()
    files, skipped, problems = collect(paths)
    locators: dict[str, Callable[[str], str]] = {}  # OSCAL files: our locations -> theirs
    prepared: list[Prepared] = []
    seen: dict[tuple[str, str], str] = {}
    explicit = {p.resolve() for p in paths if p.is_file()}
    folders = _Folders()
    claims = _Claims(session)
    for path in files:
        label = str(path)
        try:
            value, locator, raw = _read(path, label, refs, profile)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        if locator is not None:
            locators[label] = locator
        # The cheap test first: resolving a path costs a system call per component.
        if not (isinstance(value, dict) and ("deployment" in value or "assessment" in value)) and (
            path.resolve() not in explicit
        ):
            skipped.append(label)  # some other document found while walking a folder
            continue
        other = next(
            (
                k
                for k in _NOT_ASSESSMENTS
                if isinstance(value, dict)
                and k in value
                and not ("deployment" in value or "assessment" in value)
            ),
            None,
        )
        if other is not None:
            problems.append(Problem(label, other, _NOT_ASSESSMENTS[other]))
            continue
        try:
            doc = validate(AssessmentDoc, value, label)
        except InvalidInput as exc:
            problems.extend(exc.problems)
            continue
        file_problems = list(_check_references(doc, refs, label))
        file_problems += _date_problems(doc, label, today)
        if policy is not None:
            file_problems += _acceptance_problems(doc, label, policy)
        evidence = _prepare_evidence(doc, path.parent, label, file_problems, store, folders, claims)
        problems.extend(file_problems)
        if file_problems:
            continue
        key = (doc.deployment.id, doc.assessment.id)
        if key in seen:
            problems.append(
                Problem(
                    label,
                    "assessment.id",
                    f"assessment {key[1]} of deployment {key[0]} is also in {seen[key]}",
                )
            )
            continue
        seen[key] = label
        # One dump serves the fingerprint and the profile snapshot the writer stores.
        dumped = doc.model_dump(mode="json")
        profile = dumped["deployment"]
        prepared.append(
            Prepared(label, doc, _fingerprint(dumped, evidence), evidence, profile, raw)
        )
    # Every value must fit its column, on every backend, before anything is written.
    problems.extend(limit_problems(prepared))
    problems.extend(_finalized_conflicts(session, prepared))
    if problems:
        raise InvalidInput(
            Problem(p.file, locators[p.file](p.location), p.message) if p.file in locators else p
            for p in problems
        )
    if not prepared:
        raise InvalidInput(
            [Problem(", ".join(str(p) for p in paths), "", "no assessment files found")]
        )
    return prepared, skipped


_NOT_ASSESSMENTS = {
    "catalog": "an OSCAL catalog is not an assessment; load it with --catalog-dir FOLDER",
    "profile": "an OSCAL profile is not an assessment; this tool exports its tiers as profiles",
    "mapping-collection": "an OSCAL mapping-collection is not an assessment",
}


def _read(
    path: Path, label: str, refs: _References, profile: dict[str, Any] | None
) -> tuple[Any, Callable[[str], str] | None, bytes]:
    """A file's content in the import format; for converted formats (OSCAL, workbooks, CSV)
    how to name a place of the import format in the file; and the file's exact bytes, which
    the store keeps as imported."""
    suffix = path.suffix.lower()
    data = read_bounded(path, label)
    if suffix in (".xlsx", ".xlsm", ".csv"):
        from compliance.questionnaire import intake

        if suffix == ".csv":
            converted = intake.read_csv(data, label, profile)
        else:
            found = intake.inspect_package(data, label)
            if found:
                raise InvalidInput(found)
            converted = intake.read_workbook(data, label, profile)
        return converted.document, converted.locate, data
    value = parse_document(data, label)
    if isinstance(value, dict) and "assessment-results" in value:
        foreign = oscal.Foreign(profile, refs.resolve_target) if profile else None
        converted = oscal.convert(value, label, foreign)
        return converted.document, converted.locate, data
    return value, None, data


def _finalized_conflicts(session: Session, batch: list[Prepared]) -> Iterable[Problem]:
    if not batch:
        return
    existing = {
        (dkey, akey): (state, fp)
        for dkey, akey, state, fp in session.execute(
            select(Deployment.key, Assessment.key, Assessment.state, Assessment.fingerprint)
            .join(Deployment, Deployment.id == Assessment.deployment_id)
            .where(Deployment.key.in_({p.doc.deployment.id for p in batch}))
        )
    }
    for p in batch:
        found = existing.get((p.doc.deployment.id, p.doc.assessment.id))
        if found and found[0] == "final" and found[1] != p.fingerprint:
            yield Problem(
                p.label,
                "assessment.id",
                f"assessment {p.doc.assessment.id} of deployment {p.doc.deployment.id} is finalized "
                "and cannot be changed; record a new assessment id instead",
            )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (if it is on) for the duration.

    An import builds hundreds of thousands of objects that live until it ends (parsed
    documents, validated models, rows) and next to no reference cycles. The collector would
    walk them again and again as they pile up: a fifth of the time of a large import. Whatever
    cyclic garbage there is gets collected once it runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_paths(
    session: Session,
    store: EvidenceStore,
    paths: Sequence[Path],
    profile: dict[str, Any] | None = None,
) -> ImportReport:
    """Validate every file under `paths`, then write them all in the caller's transaction.
    `profile`: the `--profile` file, for documents that carry no deployment profile."""
    with _collector_paused():
        # In a function of its own, so that the batch is freed before the collector resumes
        # (it would otherwise walk all of it once more).
        return _import(session, store, paths, profile)


def _import(
    session: Session,
    store: EvidenceStore,
    paths: Sequence[Path],
    profile: dict[str, Any] | None = None,
) -> ImportReport:
    identity.check(session, store)  # another database's store must not answer for this one
    refs = _References(session)
    prepared, skipped = prepare(
        session, paths, refs, store, current_policy(session).policy, profile
    )
    identity.bind(session, store)  # on first use: the store gets its id, the database records it
    report = ImportReport(skipped=skipped)
    write_batch(session, store, prepared, refs, report)
    return report
