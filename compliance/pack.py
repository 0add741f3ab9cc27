"""Audit packs: reports, evidence and the exact data files, with a manifest anyone can verify.

A pack is a zip whose every file is listed in `manifest.json` and in `SHA256SUMS` (the format
`sha256sum -c` reads). Building is deterministic: the same database and arguments give a
byte-identical zip (sorted entries, fixed timestamps and permissions, deterministic reports).
Verifying reads the zip defensively and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__, outfile
from compliance.errors import ComplianceError, NotFound
from compliance.evidence import EvidenceStore
from compliance.policy import LoadedPolicy
from compliance.reports import model, render
from compliance.reports.batch import RenderJob, render_all
from compliance.store.models import (
    AssessmentCatalog,
    Catalog,
    Check,
    Control,
    Evidence,
    Result,
)

PACK_FORMAT = "compliance-pack/1"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
VERIFY_TEXT = "VERIFY.txt"
# Verification limits: a pack beyond them is refused rather than read.
MAX_ENTRIES = 200_000
MAX_ENTRY_BYTES = 2 * 1024**3
MAX_TOTAL_BYTES = 20 * 1024**3
MAX_RATIO = 200
_CHUNK = 1024 * 1024

VERIFY_STEPS = [
    "Unzip the pack into an empty folder: unzip PACK.zip -d pack && cd pack",
    "Check every file against the list of hashes: sha256sum -c SHA256SUMS (every line must say OK)",
    "Check that nothing was added: the files in the folder, other than SHA256SUMS, are exactly those listed in SHA256SUMS "
    "(for example: find . -type f ! -name SHA256SUMS | sed 's|^./||' | sort | diff - <(cut -c67- SHA256SUMS | sort))",
    "Compare the SHA-256 of SHA256SUMS itself with the value recorded in the audit trail or sent with the pack",
    "manifest.json lists the same files with their sizes, the catalog versions, the policy, the tool version, the as-of date and the scope",
]


@dataclass(frozen=True)
class PackScope:
    deployments: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    as_of: date | None = None


@dataclass
class _Entry:
    path: str
    data: bytes | None = None
    source: Path | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None
        return self.source.read_bytes()


def _safe_part(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", text.replace("/", "__")).strip(" .")
    return cleaned or "_"


def _unique(path: str, taken: set[str]) -> str:
    if path not in taken:
        taken.add(path)
        return path
    stem, ext = posixpath.splitext(path)
    n = 2
    while f"{stem} ({n}){ext}" in taken:
        n += 1
    taken.add(f"{stem} ({n}){ext}")
    return f"{stem} ({n}){ext}"


def _stamp(day: date) -> tuple[int, int, int, int, int, int]:
    return (max(day.year, 1980), day.month, day.day, 0, 0, 0)


def _freshness(flag: dict[str, Any] | None) -> dict[str, Any]:
    if flag is None:
        return {"stale": False}
    return {"stale": True, "age_days": flag["age_days"], "max_age_days": flag["max_age_days"]}


def _collect_entries(
    session: Session,
    store: EvidenceStore,
    policy: LoadedPolicy,
    scope: PackScope,
    templates: Path | None,
    progress: Callable[[str], None],
    workers: int = 1,
) -> tuple[list[_Entry], dict[str, Any]]:
    pairs = model.latest_assessments(session, list(scope.deployments) or None)
    found = {d.key for d, _a, _p in pairs}
    missing = [d for d in scope.deployments if d not in found]
    if missing:
        raise NotFound(f"no assessment found for deployment(s): {', '.join(missing)}")
    if not pairs:
        raise NotFound("there is nothing to pack: no deployment has an assessment")
    assessment_ids = [a.id for _d, a, _p in pairs]
    catalogs = (
        session.execute(
            select(Catalog)
            .where(
                Catalog.id.in_(
                    select(AssessmentCatalog.catalog_id).where(
                        AssessmentCatalog.assessment_id.in_(assessment_ids)
                    )
                )
            )
            .order_by(Catalog.kind, Catalog.key, Catalog.id)
        )
        .scalars()
        .all()
    )
    framework_ids = sorted({c.key for c in catalogs if c.kind == "framework"})
    frameworks = list(scope.frameworks) or framework_ids
    unknown = [f for f in frameworks if f not in framework_ids]
    if unknown:
        raise NotFound(
            f"unknown framework(s) for this scope: {', '.join(unknown)} (known: {', '.join(framework_ids)})"
        )
    as_of = scope.as_of or max(a.assessed_on for _d, a, _p in pairs)
    deployments = [d.key for d, _a, _p in pairs]
    template_overrides = render.overrides(templates)  # refuses a folder with links out of it
    entries: list[_Entry] = []
    taken: set[str] = set()

    def add(path: str, data: bytes | None = None, source: Path | None = None) -> str:
        final = _unique(path, taken)
        entries.append(_Entry(final, data, source))
        return final

    stale_by_deployment: dict[str, list[dict[str, Any]]] = {}
    progress("building report data")
    summary = model.summary_report(session, as_of, policy, deployments)
    jobs: list[tuple[str, RenderJob]] = []

    def both(base: str, report: dict[str, Any]) -> None:
        jobs.append((f"{base}.pdf", RenderJob(report, "pdf", templates)))
        jobs.append((f"{base}.xlsx", RenderJob(report, "xlsx", templates)))

    both("reports/summary", summary)
    for dep, a, _prev in pairs:
        gap = model.gap_report(session, dep.key, a.key, as_of, policy)
        stale_by_deployment[dep.key] = gap["stale_evidence"]
        both(f"reports/deployments/{_safe_part(dep.key)}/gap", gap)
    for fw in frameworks:
        both(
            f"reports/evidence/{_safe_part(fw)}",
            model.evidence_report(session, fw, None, as_of, deployments, policy),
        )
    rendered = render_all(
        [j for _p, j in jobs],
        workers,
        lambda done, total: progress(f"rendered {done} of {total} reports"),
    )
    for (path, _job), data in zip(jobs, rendered, strict=True):
        add(path, data)  # workbooks come with fixed timestamps already (reports.xlsx)

    stale = {
        (g_dep, e["check"], e["name"]): e
        for g_dep, items in stale_by_deployment.items()
        for e in items
    }
    progress("evidence files")
    rows = session.execute(
        select(
            Result.assessment_id,
            Check.key,
            Catalog.key,
            Control.ref,
            Evidence.file_name,
            Evidence.sha256,
            Evidence.size,
        )
        .join(Evidence, Evidence.result_id == Result.id)
        .outerjoin(Check, Check.id == Result.check_id)
        .outerjoin(Control, Control.id == Result.control_id)
        .outerjoin(Catalog, Catalog.id == Control.catalog_id)
        .where(Result.assessment_id.in_(assessment_ids), Evidence.kind == "file")
        .order_by(Result.assessment_id, Result.position, Evidence.position)
    ).all()
    dep_of = {a.id: d.key for d, a, _p in pairs}
    evidence_index = []
    for aid, check, fw_key, ref, name, sha, size in rows:
        target = check or f"{fw_key}/{ref}"
        assert sha is not None  # file evidence always has a hash (a table constraint)
        blob = store.path_for(sha)
        if not blob.is_file():
            raise ComplianceError(
                f"evidence {name} ({sha}) of {dep_of[aid]} is missing from the evidence store {store.root}"
            )
        original = PurePosixPath(str(name).replace("\\", "/")).name or "evidence"
        path = add(
            f"evidence/{_safe_part(dep_of[aid])}/{_safe_part(target)}/{_safe_part(original)}",
            source=blob,
        )
        evidence_index.append(
            dict(
                deployment=dep_of[aid],
                target=target,
                original_name=name,
                path=path,
                sha256=sha,
                size=size,
                **_freshness(stale.get((dep_of[aid], check, name))),
            )
        )

    progress("catalogs and policy")
    catalog_index = []
    for c in catalogs:
        path = add(f"data/{c.kind}/{_safe_part(PurePosixPath(c.file_name).name)}", data=c.content)
        catalog_index.append(
            dict(
                kind=c.kind,
                id=c.key,
                version=c.version,
                sha256=c.sha256,
                path=path,
                origin=c.origin,
            )
        )
    same = next(
        (
            c["path"]
            for c in catalog_index
            if c["kind"] == "policy" and c["sha256"] == policy.file.sha256
        ),
        None,
    )
    policy_path = same or add(
        f"data/policy-applied/{_safe_part(policy.file.path.name)}", data=policy.file.raw
    )
    meta = dict(
        as_of=as_of.isoformat(),
        scope=dict(
            deployments=deployments,
            frameworks=frameworks,
            assessments=[
                dict(
                    deployment=d.key,
                    assessment=a.key,
                    date=a.assessed_on.isoformat(),
                    state=a.state,
                )
                for d, a, _p in pairs
            ],
        ),
        catalogs=catalog_index,
        policy=dict(
            id=policy.policy.id,
            version=policy.policy.version,
            sha256=policy.file.sha256,
            path=policy_path,
        ),
        evidence=evidence_index,
        template_overrides=template_overrides,
    )
    return entries, meta


def _overrides_note(listing: list[dict[str, Any]]) -> str:
    """What VERIFY.txt says about reports rendered with templates other than the built-in ones."""
    if not listing:
        return ""
    lines = "".join(f"   {f['sha256']}  {f['name']} ({f['size']} bytes)\n" for f in listing)
    return (
        "\nNOTE: the reports in this pack were rendered with custom templates (--templates), "
        "not only the tool's built-in ones: their layout and wording are not the tool's own. "
        "Compare what they say with the data in this pack. The files used "
        "(also under template_overrides in manifest.json):\n" + lines
    )


def build_pack(
    session: Session,
    store: EvidenceStore,
    policy: LoadedPolicy,
    scope: PackScope,
    out: Path,
    templates: Path | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    guard: outfile.Protected | None = None,
) -> dict[str, Any]:
    """Write the pack to `out` (through `outfile.replacing`, refusing what `guard` protects)
    and return its manifest; reports are rendered by `workers` processes."""
    if guard is not None:
        guard.check(out)  # before the work, not only at the end
    entries, meta = _collect_entries(
        session, store, policy, scope, templates, progress or (lambda _m: None), workers
    )
    files = []
    for e in sorted(entries, key=lambda x: x.path):
        data = e.read()
        files.append(dict(path=e.path, sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    manifest = dict(
        format=PACK_FORMAT,
        tool=dict(name="compliance", version=__version__),
        **meta,
        verification=dict(
            checksums_file=CHECKSUMS,
            algorithm="SHA-256",
            steps=VERIFY_STEPS,
            note="Every file in the pack except SHA256SUMS is listed in SHA256SUMS; manifest.json is listed there too.",
        ),
        files=files,
    )
    manifest_bytes = (
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    ).encode()
    verify_bytes = (
        "How to verify this pack without the tool\n\n"
        + "\n".join(f"{i}. {s}" for i, s in enumerate(VERIFY_STEPS, 1))
        + "\n"
        + _overrides_note(meta["template_overrides"])
    ).encode()
    extra = {MANIFEST: manifest_bytes, VERIFY_TEXT: verify_bytes}
    sums = [(f["path"], f["sha256"]) for f in files]
    sums += [(name, hashlib.sha256(data).hexdigest()) for name, data in extra.items()]
    checksums = "".join(f"{sha}  {path}\n" for path, sha in sorted(sums)).encode()
    stamp = _stamp(date.fromisoformat(meta["as_of"]))
    with (
        outfile.replacing(out, guard) as fh,
        zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        payload = {e.path: e for e in entries}
        for name in sorted([*payload, *extra, CHECKSUMS]):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            if name in payload:
                data = payload[name].read()
            else:
                data = checksums if name == CHECKSUMS else extra[name]
            zf.writestr(info, data)
    return manifest


# Verification ---------------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str  # missing, extra, changed, unsafe, manifest
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


@dataclass
class VerifyReport:
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def _unsafe_name(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "path escapes the pack folder (..)"
    return None


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    """SHA-256 and size of an entry, reading at most its declared size."""
    h = hashlib.sha256()
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            size += len(chunk)
            if size > info.file_size or size > MAX_ENTRY_BYTES:
                raise ComplianceError("entry expands beyond its declared size")
            h.update(chunk)
    return h.hexdigest(), size


# What a damaged entry raises while it is decompressed or checked (bad deflate data, bad CRC,
# truncated data, an unsupported or encrypted method).
UNREADABLE: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
)


UNREADABLE_OR_OVERSIZE: tuple[type[BaseException], ...] = (ComplianceError, *UNREADABLE)


def _read_small(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """An entry already known to be small, read in full (a damaged one raises UNREADABLE)."""
    with zf.open(info) as fh:
        return fh.read(info.file_size + 1)


def _parse_checksums(data: bytes) -> dict[str, str] | str:
    out: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "SHA256SUMS is not UTF-8 text"
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not m:
            return f"SHA256SUMS line {n} is not '<sha256>  <path>'"
        out[m.group(2)] = m.group(1)
    return out


def verify_pack(path: Path) -> VerifyReport:
    """Check every file of a pack against SHA256SUMS and the manifest; name every finding."""
    report = VerifyReport()
    try:
        zf = zipfile.ZipFile(path)
    except UNREADABLE as exc:
        report.findings.append(Finding("unsafe", str(path), f"not a readable zip file: {exc}"))
        return report
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            report.findings.append(Finding("unsafe", str(path), f"more than {MAX_ENTRIES} entries"))
            return report
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            report.findings.append(
                Finding("unsafe", str(path), f"declares {total} bytes uncompressed, over the limit")
            )
            return report
        safe: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            problem = _unsafe_name(name)
            if problem is None and stat.S_ISLNK(mode):
                problem = "symbolic link entry"
            if problem is None and info.is_dir():
                continue
            if (
                problem is None
                and info.compress_size
                and info.file_size / info.compress_size > MAX_RATIO
                and info.file_size > _CHUNK
            ):
                problem = f"compression ratio {info.file_size // info.compress_size}:1 is beyond {MAX_RATIO}:1 (zip bomb?)"
            if problem is None and info.file_size > MAX_ENTRY_BYTES:
                problem = "entry is larger than the limit"
            if problem is None and name in safe:
                problem = "entry appears twice"
            if problem:
                report.findings.append(Finding("unsafe", name, problem))
            else:
                safe[name] = info
        sums_info = safe.get(CHECKSUMS)
        manifest_info = safe.get(MANIFEST)
        if sums_info is None or manifest_info is None:
            for name, found in ((CHECKSUMS, sums_info), (MANIFEST, manifest_info)):
                if found is None:
                    report.findings.append(Finding("missing", name, "the pack has no such file"))
            return report
        if sums_info.file_size > 64 * 1024**2 or manifest_info.file_size > 256 * 1024**2:
            report.findings.append(
                Finding("unsafe", CHECKSUMS, "checksum or manifest file is implausibly large")
            )
            return report
        try:
            sums = _parse_checksums(_read_small(zf, sums_info))
        except UNREADABLE as exc:
            report.findings.append(Finding("unsafe", CHECKSUMS, f"cannot be read safely: {exc}"))
            return report
        if isinstance(sums, str):
            report.findings.append(Finding("manifest", CHECKSUMS, sums))
            return report
        try:
            manifest = json.loads(_read_small(zf, manifest_info))
            listed = {f["path"]: (f["sha256"], int(f["size"])) for f in manifest["files"]}
            report.manifest = manifest
        except UNREADABLE as exc:
            report.findings.append(Finding("unsafe", MANIFEST, f"cannot be read safely: {exc}"))
            listed = {}
        except (ValueError, KeyError, TypeError) as exc:
            report.findings.append(Finding("manifest", MANIFEST, f"not a valid manifest: {exc}"))
            listed = {}
        for name in sorted(set(sums) | set(safe)):
            if name == CHECKSUMS:
                continue
            entry = safe.get(name)
            if entry is None:
                if not any(f.path == name for f in report.findings):
                    report.findings.append(
                        Finding("missing", name, "listed in SHA256SUMS but not in the pack")
                    )
                continue
            if name not in sums:
                report.findings.append(
                    Finding("extra", name, "in the pack but not listed in SHA256SUMS")
                )
                continue
            try:
                digest, size = _read_limited(zf, entry)
            except UNREADABLE_OR_OVERSIZE as exc:
                report.findings.append(Finding("unsafe", name, f"cannot be read safely: {exc}"))
                continue
            report.files_checked += 1
            if digest != sums[name]:
                report.findings.append(
                    Finding("changed", name, f"SHA-256 is {digest}, SHA256SUMS says {sums[name]}")
                )
            elif name in listed and (listed[name][0] != digest or listed[name][1] != size):
                report.findings.append(
                    Finding("changed", name, "does not match its manifest entry")
                )
        for name in sorted(set(listed) - set(sums)):
            report.findings.append(
                Finding("manifest", name, "listed in the manifest but not in SHA256SUMS")
            )
        for name in sorted(set(sums) - set(listed) - {MANIFEST, VERIFY_TEXT}):
            if name in safe:
                report.findings.append(
                    Finding("manifest", name, "listed in SHA256SUMS but not in the manifest")
                )
    return report
