"""Audit packs: reports, evidence and the exact data files, with a manifest anyone can verify.

A pack is a zip whose every file is listed in `manifest.json` and in `SHA256SUMS` (the format
`sha256sum -c` reads); a signed pack adds `SHA256SUMS.sig`, an OpenSSH signature (SSHSIG,
namespace `SSHSIG_NAMESPACE`) of `SHA256SUMS`. Building is deterministic: the same database and
arguments give a byte-identical zip (sorted entries, fixed timestamps and permissions,
deterministic reports and Ed25519 signatures); it records a `pack.build` event, which changes no
data and so nothing a rebuild writes. Verifying reads the zip as unzip would (compliance.zipread)
and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance import __version__, outfile, pack_readme, sshsig, zipread
from compliance.dates import generated_at, stamp
from compliance.errors import ComplianceError, NotFound
from compliance.evidence import EvidenceStore
from compliance.oscal import export_assessment
from compliance.pack_names import (
    CHECKSUMS,
    MANIFEST,
    PACK_FORMAT,
    SIGNATURE,
    SIGNER_PRINCIPAL,
    SSHSIG_NAMESPACE,
    VERIFY_TEXT,
)
from compliance.policy import LoadedPolicy
from compliance.reports import model, render
from compliance.reports.batch import RenderJob, render_all
from compliance.store import audit
from compliance.store.models import (
    AssessmentCatalog,
    AssessmentDocument,
    Catalog,
    Check,
    Control,
    Evidence,
    Result,
)

# Verification limits: a pack beyond them is refused rather than read.
MAX_ENTRIES = 200_000
MAX_ENTRY_BYTES = 2 * 1024**3
MAX_TOTAL_BYTES = 20 * 1024**3
MAX_RATIO = 200
_CHUNK = 1024 * 1024


def verify_steps(head: audit.Anchor | None, signer: sshsig.PublicKey | None) -> list[str]:
    """How to verify the pack without the tool, each step ending in its exact commands
    (lines starting with `$ `), to run with bash in an empty folder holding the pack as PACK.zip
    (and, for a signed pack, the signer's public key as signer.pub)."""
    steps = [
        "Unzip the pack into a new folder (unzip must neither warn nor ask to replace a file):\n"
        "$ unzip -q PACK.zip -d pack && cd pack",
        "Check every file against the list of hashes; every line must say OK:\n"
        "$ sha256sum --strict -c SHA256SUMS",
        f"Check that nothing was added: the files, other than {CHECKSUMS} and {SIGNATURE}, are "
        f"exactly those listed in {CHECKSUMS} (this prints nothing):\n"
        f"$ find . ! -type d ! -path ./{CHECKSUMS} ! -path ./{SIGNATURE} | sed 's|^\\./||' | sort"
        f" | diff - <(cut -c67- {CHECKSUMS} | sort)",
    ]
    if signer is not None:
        steps.append(
            f"Check the signature of {CHECKSUMS}: an OpenSSH signature (SSHSIG, namespace "
            f"{SSHSIG_NAMESPACE}) by the key {signer.fingerprint}. Use the public key you received "
            "from the signer, not one taken from this pack, saved as signer.pub beside PACK.zip "
            "(ssh-keygen -lf signer.pub prints its fingerprint); ssh-keygen must print Good:\n"
            f"$ (printf '{SIGNER_PRINCIPAL} namespaces=\"{SSHSIG_NAMESPACE}\" '; cat ../signer.pub) > ../allowed_signers\n"
            f"$ ssh-keygen -Y verify -f ../allowed_signers -I {SIGNER_PRINCIPAL} -n {SSHSIG_NAMESPACE}"
            f" -s {SIGNATURE} < {CHECKSUMS}"
        )
    steps.append(
        f"Compare the SHA-256 of {CHECKSUMS} itself with the value sent with the pack, or recorded "
        "by its pack.build event in the audit trail (compliance audit log): that fixes every "
        "other file:\n"
        f"$ sha256sum {CHECKSUMS}"
    )
    if head is not None:
        steps.append(
            f"The pack was built from the data recorded up to event {head.events} of the audit "
            f"trail, whose hash is {head.hash}. On that database, this shows that the record still "
            "extends it (no event up to it deleted or rewritten), and that every assessment is as "
            "its events recorded it:\n"
            f"compliance audit verify --expect {head}"
        )
    steps.append(
        "manifest.json lists the same files with their sizes, the catalog versions, the policy, "
        "the tool version, the as-of date, the scope and the audit head"
    )
    return steps


def verify_text(head: audit.Anchor | None, signer: sshsig.PublicKey | None) -> str:
    """VERIFY.txt: the steps, with the tool and without it."""
    with_tool = f"compliance pack verify PACK.zip{' --signer signer.pub' if signer else ''}"
    lines = [
        "How to verify this pack",
        "",
        "With the tool (it reads the zip as unzip does, without extracting it):",
        "",
        f"    {with_tool}",
        "",
        "Without the tool, with bash, coreutils, unzip"
        + (" and OpenSSH (ssh-keygen)" if signer else "")
        + ", in an empty folder holding the pack as PACK.zip"
        + (" and the signer's public key as signer.pub" if signer else "")
        + ":",
        "",
    ]
    for i, step in enumerate(verify_steps(head, signer), 1):
        text, *commands = step.split("\n")
        lines.append(f"{i}. {text}")
        lines.extend(f"    {c}" for c in commands)
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True)
class PackScope:
    as_of: date
    deployments: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()
    # Draft assessments (not finalized) are refused unless this is set; their reports then say
    # DRAFT on every page and the pack's README says which assessments are drafts.
    include_drafts: bool = False


@dataclass
class _Entry:
    path: str
    data: bytes | None = None
    source: Path | None = None
    sha256: str | None = None  # what the source must hash to (an evidence file's record)
    label: str = ""

    def read(self) -> bytes:
        """The entry's bytes; an evidence file is hashed as it is read and must match its record."""
        if self.data is not None:
            return self.data
        assert self.source is not None
        try:
            data = self.source.read_bytes()
        except FileNotFoundError:
            raise ComplianceError(f"{self.label}: missing from the evidence store") from None
        except OSError as exc:
            raise ComplianceError(f"{self.label}: cannot be read: {exc.strerror}") from None
        if self.sha256 is not None:
            found = hashlib.sha256(data).hexdigest()
            if found != self.sha256:
                raise ComplianceError(
                    f"{self.label}: altered in the evidence store (it hashes to {found})"
                )
        return data


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


def _stamp(moment: datetime) -> tuple[int, int, int, int, int, int]:
    """A zip timestamp (local time fields, two-second resolution), in UTC."""
    if moment.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


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
    signer: sshsig.PublicKey | None = None,
) -> tuple[list[_Entry], dict[str, Any]]:
    as_of = scope.as_of
    everything = model.latest_assessments(session, as_of, list(scope.deployments) or None)
    found = {d.key for d, _a, _p in everything}
    unknown_deps = [d for d in scope.deployments if d not in found]
    if unknown_deps:
        raise NotFound(f"unknown deployment(s): {', '.join(unknown_deps)}")
    pairs = [(d, a, p) for d, a, p in everything if a is not None]
    not_assessed = sorted(d.key for d, a, _p in everything if a is None)
    if scope.deployments and not_assessed:
        raise NotFound(
            f"no assessment dated on or before {as_of.isoformat()} for deployment(s): "
            f"{', '.join(not_assessed)}"
        )
    if not pairs:
        raise NotFound(
            f"there is nothing to pack: no deployment has an assessment dated on or before "
            f"{as_of.isoformat()}"
        )
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
    drafts = [(d, a) for d, a, _p in pairs if a.state != "final"]
    if drafts and not scope.include_drafts:
        listed = ", ".join(f"{d.key} {a.key}" for d, a in drafts[:20])
        more = f" and {len(drafts) - 20} more" if len(drafts) > 20 else ""
        raise ComplianceError(
            f"{len(drafts)} assessment(s) in force at {as_of.isoformat()} are drafts, not "
            f"finalized: {listed}{more}. Finalize them (compliance assessment finalize "
            "DEPLOYMENT ASSESSMENT) or pass --include-drafts, and every page of every report "
            "in the pack says DRAFT"
        )
    deployments = [d.key for d, _a, _p in pairs]
    template_overrides = render.overrides(templates)  # refuses a folder with links out of it
    entries: list[_Entry] = []
    taken: set[str] = set()

    def add(
        path: str,
        data: bytes | None = None,
        source: Path | None = None,
        sha256: str | None = None,
        label: str = "",
    ) -> str:
        final = _unique(path, taken)
        entries.append(_Entry(final, data, source, sha256, label))
        return final

    stale_by_deployment: dict[str, list[dict[str, Any]]] = {}
    progress("building report data")
    summary = model.summary_report(session, as_of, policy, deployments)
    jobs: list[tuple[str, RenderJob]] = []

    def both(base: str, report: dict[str, Any]) -> None:
        jobs.append((f"{base}.pdf", RenderJob(report, "pdf", templates)))
        jobs.append((f"{base}.xlsx", RenderJob(report, "xlsx", templates)))

    both("reports/summary", summary)
    both("reports/plan", model.plan_report(session, as_of, policy, deployments))
    documents = {
        d.assessment_id: d
        for d in session.execute(
            select(AssessmentDocument).where(AssessmentDocument.assessment_id.in_(assessment_ids))
        ).scalars()
    }
    per_deployment: list[dict[str, Any]] = []
    for dep, a, _prev in pairs:
        gap = model.gap_report(session, dep.key, a.key, as_of, policy)
        stale_by_deployment[dep.key] = gap["stale_evidence"]
        both(f"reports/deployments/{_safe_part(dep.key)}/gap", gap)
        folder = f"deployments/{_safe_part(dep.key)}"
        decision_path = add(f"{folder}/decision.json", _json_bytes(gap["decision"]))
        oscal_path = add(
            f"{folder}/oscal-assessment-results.json",
            _json_bytes(export_assessment(session, dep.key, a.key, as_of)),
        )
        doc = documents.get(a.id)
        doc_entry: dict[str, Any] | None = None
        if doc is not None:
            original = PurePosixPath(str(doc.name).replace("\\", "/")).name or "assessment"
            doc_entry = dict(
                path=add(
                    f"{folder}/assessment-as-imported/{_safe_part(original)}",
                    bytes(doc.content),
                ),
                imported_as=doc.name,
                sha256=doc.sha256,
                size=doc.size,
            )
        per_deployment.append(
            dict(
                deployment=dep.key,
                assessment=a.key,
                date=a.assessed_on.isoformat(),
                state=a.state,
                decision=gap["decision"]["decision"],
                tier=gap["decision"]["tier"],
                decision_path=decision_path,
                oscal_path=oscal_path,
                document=doc_entry,
                document_note=None
                if doc_entry
                else "imported before this tool kept assessment files (migration 0005): the "
                "file as imported is not in the database, and none was rebuilt",
            )
        )
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
            Evidence,
        )
        .join(Evidence, Evidence.result_id == Result.id)
        .outerjoin(Check, Check.id == Result.check_id)
        .outerjoin(Control, Control.id == Result.control_id)
        .outerjoin(Catalog, Catalog.id == Control.catalog_id)
        .where(Result.assessment_id.in_(assessment_ids))
        .order_by(Result.assessment_id, Result.position, Evidence.position)
    ).all()
    dep_of = {a.id: d.key for d, a, _p in pairs}
    evidence_index = []
    for aid, check, fw_key, ref, ev in rows:
        target = check or f"{fw_key}/{ref}"
        where = f"evidence/{_safe_part(dep_of[aid])}/{_safe_part(target)}"
        common = dict(
            deployment=dep_of[aid],
            target=target,
            kind=ev.kind,
            description=ev.description,
            collected=ev.collected_on.isoformat() if ev.collected_on else None,
        )
        if ev.kind == "file":
            name, sha = ev.file_name, ev.sha256
            assert sha is not None  # file evidence always has a hash (a table constraint)
            original = PurePosixPath(str(name).replace("\\", "/")).name or "evidence"
            path = add(
                f"{where}/{_safe_part(original)}",
                source=store.path_for(sha),
                sha256=sha,
                label=f"evidence {name} of {dep_of[aid]} {target} (sha256 {sha})",
            )
            evidence_index.append(
                dict(
                    **common,
                    original_name=name,
                    path=path,
                    sha256=sha,
                    size=ev.size,
                    **_freshness(stale.get((dep_of[aid], check, name))),
                )
            )
            continue
        # A link: a reference, never fetched; its snapshot (what it showed) is packed like a
        # file, and `path`/`sha256` then name the snapshot.
        snap_path = None
        if ev.snapshot_sha256 is not None:
            snap = PurePosixPath(str(ev.snapshot_name or "").replace("\\", "/")).name
            snap_path = add(
                f"{where}/{_safe_part(snap or 'snapshot')}",
                source=store.path_for(ev.snapshot_sha256),
                sha256=ev.snapshot_sha256,
                label=f"snapshot {ev.snapshot_name} of {ev.url} for {dep_of[aid]} {target} "
                f"(sha256 {ev.snapshot_sha256})",
            )
        evidence_index.append(
            dict(
                **common,
                url=ev.url,
                original_name=ev.snapshot_name,
                path=snap_path,
                sha256=ev.snapshot_sha256,
                size=ev.snapshot_size,
                snapshot=snap_path is not None,
                **_freshness(stale.get((dep_of[aid], check, ev.url))),
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
            not_assessed=not_assessed,
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
        deployments=per_deployment,
        drafts=[dict(deployment=d.key, assessment=a.key) for d, a in drafts],
    )
    head = audit.data_head(session)
    trail = pack_readme.audit_extract(session, head, deployments)
    add("audit/trail.json", _json_bytes(trail))
    completeness = pack_readme.completeness(session, as_of, deployments, scope.deployments)
    add("completeness.json", _json_bytes(completeness))
    meta["completeness"] = dict(
        path="completeness.json",
        deployments_in_database=completeness["totals"]["deployments"],
        in_scope=completeness["totals"]["in_scope"],
        left_out=completeness["totals"]["left_out"],
    )
    meta["audit_trail"] = dict(path="audit/trail.json", events=len(trail["events"]))
    add(
        "README.md",
        pack_readme.readme(
            meta, policy, summary, completeness, trail, head, bool(template_overrides), signer
        ).encode(),
    )
    return entries, meta


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


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
    sign_with: sshsig.SigningKey | None = None,
    guard: outfile.Protected | None = None,
    on_built: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Write the pack to `out` (through `outfile.replacing`, refusing what `guard` protects) and
    return the manifest; reports are rendered by `workers` processes.

    Every evidence file is hashed as it is read and must match its record: any missing or
    altered one fails the build, naming each, before anything is written. With `sign_with`,
    SHA256SUMS is signed (SHA256SUMS.sig). `on_built` receives the detail of the `pack.build`
    audit event once the zip is complete and before it takes its name: the caller records the
    event (in a short write transaction of its own), and if that fails no pack is left.
    """
    if guard is not None:
        guard.check(out)  # before the work, not only at the end
    signer = sign_with.public if sign_with else None
    entries, meta = _collect_entries(
        session, store, policy, scope, templates, progress or (lambda _m: None), workers, signer
    )
    head = audit.data_head(session)
    files = []
    problems = []
    for e in sorted(entries, key=lambda x: x.path):
        try:
            data = e.read()
        except ComplianceError as exc:
            problems.append(str(exc))
            continue
        files.append(dict(path=e.path, sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    if problems:
        raise ComplianceError(
            f"{len(problems)} evidence file(s) in {store.root} do not match their records; no pack "
            "was written (re-import the assessments' files to put them back; "
            "`compliance evidence verify` lists every one):\n  " + "\n  ".join(problems)
        )
    generated = generated_at()
    manifest = dict(
        format=PACK_FORMAT,
        tool=dict(name="compliance", version=__version__),
        generated_at=stamp(generated),
        **meta,
        audit=dict(data_head=dict(events=head.events, hash=head.hash) if head else None),
        verification=dict(
            checksums_file=CHECKSUMS,
            algorithm="SHA-256",
            steps=verify_steps(head, signer),
            note="Every file in the pack except SHA256SUMS (and SHA256SUMS.sig) is listed in "
            "SHA256SUMS; manifest.json is listed there too.",
        ),
        **(
            dict(
                signature=dict(
                    file=SIGNATURE,
                    format="SSHSIG (OpenSSH PROTOCOL.sshsig), armored",
                    namespace=SSHSIG_NAMESPACE,
                    signs=CHECKSUMS,
                    key=signer.openssh,
                    fingerprint=signer.fingerprint,
                )
            )
            if signer
            else {}
        ),
        files=files,
    )
    # Files in the zip: those listed above, and manifest.json, VERIFY.txt, SHA256SUMS (and its
    # signature): what `pack`, `pack verify` and unzip all count.
    manifest["zip_files"] = len(files) + 3 + (1 if sign_with is not None else 0)
    manifest_bytes = (
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    ).encode()
    verify_bytes = (
        verify_text(head, signer) + _overrides_note(meta["template_overrides"])
    ).encode()
    extra = {MANIFEST: manifest_bytes, VERIFY_TEXT: verify_bytes}
    sums = [(f["path"], f["sha256"]) for f in files]
    sums += [(name, hashlib.sha256(data).hexdigest()) for name, data in extra.items()]
    checksums = "".join(f"{sha}  {path}\n" for path, sha in sorted(sums)).encode()
    # Every entry carries the time the pack was generated (fixed by SOURCE_DATE_EPOCH), which is
    # never before the collection of the evidence in it.
    entry_time = _stamp(generated)
    unsigned = {CHECKSUMS: checksums}
    if sign_with is not None:
        unsigned[SIGNATURE] = sshsig.sign(checksums, sign_with, SSHSIG_NAMESPACE)
    expected = dict(sums)
    with outfile.replacing(out, guard) as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            payload = {e.path: e for e in entries}
            for name in sorted([*payload, *extra, *unsigned]):
                info = zipfile.ZipInfo(name, date_time=entry_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                info.create_system = 3
                if name in payload:
                    data = payload[name].read()
                    if hashlib.sha256(data).hexdigest() != expected[name]:
                        raise ComplianceError(f"{name} changed while the pack was being built")
                else:
                    data = unsigned[name] if name in unsigned else extra[name]
                zf.writestr(info, data)
        if on_built is not None:
            on_built(
                {
                    "sha256sums": hashlib.sha256(checksums).hexdigest(),
                    "data_head": dict(events=head.events, hash=head.hash) if head else None,
                    "as_of": meta["as_of"],
                    "deployments": meta["scope"]["deployments"],
                    "frameworks": meta["scope"]["frameworks"],
                    "files": len(files) + len(extra),
                    "zip_files": manifest["zip_files"],
                    "signed_by": signer.fingerprint if signer else None,
                    "tool_version": __version__,
                }
            )
    return manifest


# Verification ---------------------------------------------------------------------------------


@dataclass
class Finding:
    kind: str  # missing, extra, changed, unsafe, manifest, signature
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}"


@dataclass
class VerifyReport:
    files_checked: int = 0
    entries: int = 0  # files in the zip, as unzip lists them (SHA256SUMS and signature included)
    findings: list[Finding] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    signed_by: sshsig.PublicKey | None = None  # the key whose valid signature the pack carries
    signer_trusted: bool = False  # that key is the expected signer (or an allowed one)
    principal: str | None = None  # who the allowed-signers file says it is

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class Trust:
    """Who must have signed a pack: one key, or the keys of an allowed-signers file."""

    key: sshsig.PublicKey | None = None
    allowed: tuple[sshsig.AllowedSigner, ...] | None = None


def _unsafe_name(name: str) -> str | None:
    if not name or "\x00" in name:
        return "empty or NUL in name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "path escapes the pack folder (..)"
    return None


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


def _entry_problem(entry: zipread.ZipEntry) -> str | None:
    """Why an entry is refused before its content is read, if it is."""
    name = entry.name
    mode = entry.external_attr >> 16
    problem = _unsafe_name(name)
    if problem is None and stat.S_ISLNK(mode):
        problem = "symbolic link entry"
    if problem is None and entry.problems:
        problem = "; ".join(entry.problems)
    if (
        problem is None
        and entry.compress_size
        and entry.file_size / entry.compress_size > MAX_RATIO
        and entry.file_size > _CHUNK
    ):
        problem = f"compression ratio {entry.file_size // entry.compress_size}:1 is beyond {MAX_RATIO}:1 (zip bomb?)"
    if problem is None and entry.file_size > MAX_ENTRY_BYTES:
        problem = "entry is larger than the limit"
    return problem


def _check_signature(
    report: VerifyReport,
    sums_bytes: bytes,
    signature: bytes | None,
    trust: Trust | None,
) -> None:
    declared = (report.manifest or {}).get("signature")
    if signature is None:
        if declared:
            report.findings.append(
                Finding(
                    "missing",
                    SIGNATURE,
                    "the manifest says the pack is signed; the signature is gone",
                )
            )
        elif trust is not None:
            report.findings.append(Finding("signature", SIGNATURE, "the pack is not signed"))
        return
    try:
        key = sshsig.verify(sums_bytes, signature, SSHSIG_NAMESPACE)
    except sshsig.SignatureError as exc:
        report.findings.append(Finding("signature", SIGNATURE, f"{exc} (of {CHECKSUMS})"))
        return
    report.signed_by = key
    if isinstance(declared, dict) and declared.get("key") != key.openssh:
        report.findings.append(
            Finding(
                "signature",
                SIGNATURE,
                f"made by {key.fingerprint}, but the manifest names the key {declared.get('fingerprint')}",
            )
        )
    if trust is None:
        return
    if trust.key is not None:
        if key != trust.key:
            report.findings.append(
                Finding(
                    "signature",
                    SIGNATURE,
                    f"made by {key.fingerprint}, not by the expected signer {trust.key.fingerprint}",
                )
            )
            return
        report.signer_trusted = True
    if trust.allowed is not None:
        entry = sshsig.allowed(list(trust.allowed), key, SSHSIG_NAMESPACE)
        if entry is None:
            report.findings.append(
                Finding(
                    "signature",
                    SIGNATURE,
                    f"made by {key.fingerprint}, which the allowed signers do not allow for "
                    f"namespace {SSHSIG_NAMESPACE}",
                )
            )
            return
        report.principal = entry.principals
        report.signer_trusted = True


def verify_pack(path: Path, trust: Trust | None = None) -> VerifyReport:
    """Check a pack as unzip would extract it: every entry's name, place and content against
    SHA256SUMS and the manifest, and its signature (required, and by that key, when `trust` is
    given); name every finding. Reads the zip from its bytes (compliance.zipread)."""
    report = VerifyReport()
    try:
        fh = path.open("rb")
    except OSError as exc:
        report.findings.append(Finding("unsafe", str(path), f"not a readable zip file: {exc}"))
        return report
    with fh:
        size = path.stat().st_size
        layout = zipread.read_layout(fh, size, MAX_ENTRIES)
        for whole in layout.problems:
            report.findings.append(Finding("unsafe", str(path), whole))
        if not layout.readable:
            return report
        report.entries = len(layout.entries)
        total = sum(e.file_size for e in layout.entries)
        if total > MAX_TOTAL_BYTES:
            report.findings.append(
                Finding("unsafe", str(path), f"declares {total} bytes uncompressed, over the limit")
            )
            return report
        safe: dict[str, zipread.ZipEntry] = {}
        for item in layout.entries:
            problem = _entry_problem(item)
            if problem is None and item.name in safe:
                problem = "entry appears twice"
            if problem:
                report.findings.append(Finding("unsafe", item.name, problem))
            else:
                safe[item.name] = item
        sums_info = safe.get(CHECKSUMS)
        manifest_info = safe.get(MANIFEST)
        if sums_info is None or manifest_info is None:
            for name, found in ((CHECKSUMS, sums_info), (MANIFEST, manifest_info)):
                if found is None and not any(f.path == name for f in report.findings):
                    report.findings.append(Finding("missing", name, "the pack has no such file"))
            return report
        try:
            sums_bytes = zipread.read(fh, sums_info, 64 * 1024**2)
        except zipread.ZipProblem as exc:
            report.findings.append(Finding("unsafe", CHECKSUMS, f"cannot be read safely: {exc}"))
            return report
        sums = _parse_checksums(sums_bytes)
        if isinstance(sums, str):
            report.findings.append(Finding("manifest", CHECKSUMS, sums))
            return report
        try:
            manifest = json.loads(zipread.read(fh, manifest_info, 256 * 1024**2))
            listed = {f["path"]: (f["sha256"], int(f["size"])) for f in manifest["files"]}
            report.manifest = manifest
        except zipread.ZipProblem as exc:
            report.findings.append(Finding("unsafe", MANIFEST, f"cannot be read safely: {exc}"))
            listed = {}
        except (ValueError, KeyError, TypeError) as exc:
            report.findings.append(Finding("manifest", MANIFEST, f"not a valid manifest: {exc}"))
            listed = {}
        signature: bytes | None = None
        sig_info = safe.get(SIGNATURE)
        if sig_info is not None:
            try:
                signature = zipread.read(fh, sig_info, sshsig.MAX_SIGNATURE_BYTES)
            except zipread.ZipProblem as exc:
                report.findings.append(
                    Finding("unsafe", SIGNATURE, f"cannot be read safely: {exc}")
                )
                signature = None
        if sig_info is not None or SIGNATURE not in {e.name for e in layout.entries}:
            _check_signature(report, sums_bytes, signature, trust)
        for name in sorted(set(sums) | set(safe)):
            if name in (CHECKSUMS, SIGNATURE):
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
                digest, size = zipread.digest(fh, entry, MAX_ENTRY_BYTES)
            except (zipread.ZipProblem, OSError) as exc:
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
        _check_evidence_index(report, listed)
    return report


def _check_evidence_index(report: VerifyReport, listed: dict[str, tuple[str, int]]) -> None:
    """Each evidence file's record (manifest `evidence[].sha256`) must be the file's hash."""
    manifest = report.manifest or {}
    evidence = manifest.get("evidence")
    if not isinstance(evidence, list):
        return
    for item in evidence:
        if not isinstance(item, dict):
            continue
        path, sha = item.get("path"), item.get("sha256")
        if isinstance(path, str) and path in listed and listed[path][0] != sha:
            report.findings.append(
                Finding(
                    "changed",
                    path,
                    f"the evidence record says sha256 {sha}, the file is {listed[path][0]}",
                )
            )
