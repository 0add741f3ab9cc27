"""Loading catalogs, checks, mappings and policies into the database, idempotently.

A data file is identified by its SHA-256: loading the same file twice changes nothing, and a
changed file is added beside the old version, which stays for the assessments that used it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from compliance import catalogs as cat
from compliance import limits
from compliance.errors import InvalidInput, NotFound, Problem
from compliance.policy import LoadedPolicy, parse_policy
from compliance.store import audit, db
from compliance.store.models import (
    Catalog,
    Check,
    Control,
    Mapping,
    SufficientSet,
    SufficientSetCheck,
)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    mappings_added: int = 0


def _kind_key_version(
    f: cat.DataFile, cs: cat.CatalogSet, policy: LoadedPolicy | None
) -> tuple[str, str, str, str, dict[str, Any] | None]:
    for c in cs.catalogs.values():
        if c.file is f:
            d = c.doc
            return (
                "framework",
                d.framework.id,
                d.framework.name,
                d.framework.version,
                dict(d.source),
            )
    if cs.checks and cs.checks.file is f:
        d2 = cs.checks.doc
        return "checks", d2.id, d2.name, d2.version, dict(d2.source)
    for m in cs.mappings:
        if m.file is f:
            d3 = m.doc
            return "mappings", d3.id, d3.name, d3.version, dict(d3.source or {})
    assert policy is not None and policy.file is f
    p = policy.policy
    return "policy", p.id, p.name, p.version, None


def _insert_catalog(
    session: Session,
    f: cat.DataFile,
    kind: str,
    key: str,
    name: str,
    version: str,
    source: dict[str, Any] | None,
    now: datetime,
) -> int:
    row = Catalog(
        kind=kind,
        key=key,
        name=name,
        version=version,
        sha256=f.sha256,
        file_name=f.label,
        content=f.raw,
        source=source,
        origin=f.origin,
        is_current=False,
        loaded_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def _control_rows(catalog_id: int, doc: cat.CatalogFile) -> list[dict[str, Any]]:
    rows = []
    for pos, c in enumerate(doc.controls):
        detail = c.model_dump(
            exclude={"ref", "kind", "parent", "title", "text", "assessable"}, exclude_none=True
        )
        rows.append(
            dict(
                catalog_id=catalog_id,
                ref=c.ref,
                kind=c.kind,
                parent_ref=c.parent,
                title=c.title,
                text=c.text,
                assessable=c.assessable,
                position=pos,
                detail=detail or None,
                nature=doc.nature_of(c.kind),
            )
        )
    return rows


def _check_rows(catalog_id: int, doc: cat.ChecksFile) -> list[dict[str, Any]]:
    return [
        dict(
            catalog_id=catalog_id,
            key=c.id,
            title=c.title,
            domain=c.domain,
            objective=c.objective,
            evidence_guidance=c.evidence,
            remediation=c.remediation,
            position=pos,
            procedure=c.procedure.model_dump(mode="json", by_alias=True) if c.procedure else None,
        )
        for pos, c in enumerate(doc.checks)
    ]


def _make_current(session: Session, kind: str, key: str, catalog_id: int) -> None:
    session.execute(
        update(Catalog)
        .where(
            Catalog.kind == kind,
            Catalog.key == key,
            Catalog.id != catalog_id,
            Catalog.is_current.is_(True),
        )
        .values(is_current=False)
    )
    session.execute(update(Catalog).where(Catalog.id == catalog_id).values(is_current=True))


def _sync_mappings(session: Session, cs: cat.CatalogSet, ids: dict[int, int]) -> int:
    """Insert the mapping rows and sufficiency declarations missing between the current checks
    and current controls (each file's rows are written once, when the file is first loaded)."""
    assert cs.checks is not None
    checks_cid = ids[id(cs.checks.file)]
    check_ids = dict(
        session.execute(select(Check.key, Check.id).where(Check.catalog_id == checks_cid)).all()
    )
    control_ids: dict[str, int] = {}
    for c in cs.catalogs.values():
        cid = ids[id(c.file)]
        for ref, pk in session.execute(
            select(Control.ref, Control.id).where(Control.catalog_id == cid)
        ):
            control_ids[f"{c.id}/{ref}"] = pk
    wanted = [
        dict(
            catalog_id=ids[id(link.file)],
            check_id=check_ids[link.check],
            control_id=control_ids[link.control],
            relationship=link.relationship,
            rationale=link.rationale,
            origin=link.origin,
        )
        for link in cat.links(cs)
    ]
    source_ids = {w["catalog_id"] for w in wanted}
    existing = (
        set(
            session.execute(
                select(Mapping.catalog_id, Mapping.check_id, Mapping.control_id).where(
                    Mapping.catalog_id.in_(source_ids)
                )
            )
        )
        if source_ids
        else set()
    )
    missing = [
        w for w in wanted if (w["catalog_id"], w["check_id"], w["control_id"]) not in existing
    ]
    if missing:
        session.execute(insert(Mapping), missing)
    declared = cat.sufficiencies(cs)
    files = {ids[id(f)] for f, _w, _s in declared}
    have = (
        set(
            session.execute(
                select(SufficientSet.catalog_id, SufficientSet.position).where(
                    SufficientSet.catalog_id.in_(files)
                )
            )
        )
        if files
        else set()
    )
    positions: dict[int, int] = {}
    for f, _where, s in declared:
        file_id = ids[id(f)]
        pos = positions.get(file_id, 0)
        positions[file_id] = pos + 1
        if (file_id, pos) in have:
            continue
        row = SufficientSet(
            catalog_id=file_id,
            control_id=control_ids[s.control],
            rationale=s.rationale,
            position=pos,
        )
        session.add(row)
        session.flush()
        session.execute(
            insert(SufficientSetCheck),
            [dict(set_id=row.id, check_id=check_ids[c]) for c in s.checks],
        )
    return len(missing)


def _loaded(session: Session, files: Sequence[cat.DataFile]) -> bool:
    """True when every file is in the database as the current version of its key."""
    shas = {f.sha256 for f in files}
    known = set(
        session.execute(
            select(Catalog.sha256).where(Catalog.sha256.in_(shas), Catalog.is_current.is_(True))
        ).scalars()
    )
    return shas <= known


def _limit_problems(cs: cat.CatalogSet, policies: Sequence[LoadedPolicy]) -> list[Problem]:
    """Every value of the data files that is longer than its column allows (see
    `compliance.limits`), with its file and place, before anything is written."""
    found: list[Problem] = []
    renamed = {"key": "id", "parent_ref": "parent", "evidence_guidance": "evidence"}

    def check(table: str, row: dict[str, Any], file: str, prefix: str) -> None:
        for p in limits.row_problems(table, row, file, lambda c: renamed.get(c, c)):
            if p.location == "file_name":  # the file's own path
                found.append(Problem(file, "", f"its path is too long: {p.message}"))
            else:
                found.append(Problem(file, f"{prefix}{p.location}", p.message))

    for f in cs.files() + [p.file for p in policies]:
        policy = next((p for p in policies if p.file is f), None)
        kind, key, name, version, _source = _kind_key_version(f, cs, policy)
        row = dict(kind=kind, key=key, name=name, version=version, file_name=f.label)
        check("catalogs", row, f.label, "framework." if kind == "framework" else "")
    for c in cs.catalogs.values():
        for i, row in enumerate(_control_rows(0, c.doc)):
            check("controls", row, c.file.label, f"controls[{i}].")
    if cs.checks is not None:
        label = cs.checks.file.label
        for i, row in enumerate(_check_rows(0, cs.checks.doc)):
            check("checks", row, label, f"checks[{i}].")
        for i, entry in enumerate(cs.checks.doc.checks):
            for j, m in enumerate(entry.mappings):
                row = dict(relationship=m.relationship, rationale=m.rationale, origin=m.origin)
                check("mappings", row, label, f"checks[{i}].mappings[{j}].")
    for om in cs.mappings:
        for j, e in enumerate(om.doc.mappings):
            row = dict(relationship=e.relationship, rationale=e.rationale, origin=e.origin)
            check("mappings", row, om.file.label, f"mappings[{j}].")
    return found


def sync_if_needed(engine: Engine, extra_dirs: Sequence[Path] = ()) -> SyncReport:
    """Load the catalogs on disk that the database does not hold yet, for read-only commands.

    Whether anything changed is read in a snapshot, without the writers' lock; only then, and
    only if something did, the files are loaded in a short write transaction of their own.
    """
    files = cat.discover(extra_dirs)
    with db.snapshot(engine) as session:
        if _loaded(session, files):
            return SyncReport(unchanged=[f.label for f in files])
    with db.transaction(engine) as session:
        return sync(session, extra_dirs, files=files)


def sync(
    session: Session,
    extra_dirs: Sequence[Path] = (),
    policy_file: cat.DataFile | None = None,
    *,
    files: Sequence[cat.DataFile] | None = None,
) -> SyncReport:
    """Make the database hold the catalogs found on disk, each as the current version of its key.

    Cheap when nothing changed: only the files' hashes are compared. `files`: the files of
    `extra_dirs` already read (`catalogs.discover`).
    """
    files = cat.discover(extra_dirs) if files is None else files
    report = SyncReport()
    if policy_file is None and _loaded(session, files):
        report.unchanged = [f.label for f in files]
        return report
    cs = cat.validate_files(files)
    assert cs.checks is not None and cs.policy_file is not None
    check_keys = {c.id for c in cs.checks.doc.checks}
    needed: dict[str, list[str]] = {}
    for c in cs.checks.doc.checks:
        for name in c.procedure.thresholds if c.procedure else []:
            needed.setdefault(name, []).append(c.id)
    policies = [parse_policy(cs.policy_file, check_keys, needed)]
    if policy_file is not None:
        policies.append(parse_policy(policy_file, check_keys, needed))
    for loaded in policies:
        refuse_baseline_impostor(session, loaded)
    too_long = _limit_problems(cs, policies)
    if too_long:
        raise InvalidInput(too_long)
    now = datetime.now(UTC)
    ids: dict[int, int] = {}
    all_files = cs.files() + [p.file for p in policies]
    for f in all_files:
        policy = next((p for p in policies if p.file is f), None)
        kind, key, name, version, source = _kind_key_version(f, cs, policy)
        existing = session.execute(
            select(Catalog.id).where(
                Catalog.kind == kind, Catalog.key == key, Catalog.sha256 == f.sha256
            )
        ).scalar_one_or_none()
        if existing is None:
            existing = _insert_catalog(session, f, kind, key, name, version, source, now)
            if kind == "framework":
                session.execute(insert(Control), _control_rows(existing, cs.catalogs[key].doc))
            elif kind == "checks":
                session.execute(insert(Check), _check_rows(existing, cs.checks.doc))
            audit.record(
                session,
                "catalog.load",
                f"{kind}:{key}",
                {"version": version, "sha256": f.sha256, "file": f.label, "origin": f.origin},
            )
            report.added.append(f.label)
        else:
            report.unchanged.append(f.label)
        if policy is None or policy is policies[0]:
            _make_current(session, kind, key, existing)
        ids[id(f)] = existing
    report.mappings_added = _sync_mappings(session, cs, ids)
    return report


def _baseline_versions(session: Session) -> dict[tuple[str, str], set[str]]:
    """(id, version) of every built-in policy, on disk or ever loaded, with its SHA-256s."""
    found: dict[tuple[str, str], set[str]] = {}
    for key, version, sha in session.execute(
        select(Catalog.key, Catalog.version, Catalog.sha256).where(
            Catalog.kind == "policy", Catalog.origin == "builtin"
        )
    ):
        found.setdefault((key, version), set()).add(sha)
    for f in cat.discover():
        if f.origin == "builtin" and cat.POLICY_SCHEMA.encode() in f.raw:
            p = parse_policy(f).policy
            found.setdefault((p.id, p.version), set()).add(f.sha256)
    return found


def refuse_baseline_impostor(session: Session, loaded: LoadedPolicy) -> None:
    """Refuse a policy that is not the built-in baseline but claims its id and version.

    Reports and the gate name a policy by id and version; a lax file that reused the
    baseline's would read as the baseline beside a hash nobody compares.
    """
    if loaded.file.origin == "builtin":
        return
    p = loaded.policy
    shas = _baseline_versions(session).get((p.id, p.version))
    if shas and loaded.file.sha256 not in shas:
        raise InvalidInput(
            [
                Problem(
                    loaded.file.label,
                    "id",
                    f"policy {p.id!r} version {p.version!r} is the id and version of the "
                    f"built-in baseline policy, but this file's content differs from it "
                    f"(sha256 {loaded.file.sha256[:12]}, baseline "
                    f"{', '.join(sorted(s[:12] for s in shas))}); give the policy its own id, "
                    "or a version of its own",
                )
            ]
        )


def current_catalog_ids(session: Session) -> list[int]:
    return list(
        session.execute(
            select(Catalog.id).where(Catalog.is_current.is_(True)).order_by(Catalog.id)
        ).scalars()
    )


def current_policy(session: Session) -> LoadedPolicy:
    row = (
        session.execute(
            select(Catalog)
            .where(Catalog.kind == "policy", Catalog.is_current.is_(True))
            .order_by(Catalog.id.desc())
        )
        .scalars()
        .first()
    )
    if row is None:
        raise NotFound("no policy is loaded; run `compliance db upgrade`")
    return parse_policy(cat.DataFile(Path(row.file_name), row.file_name, row.content, row.origin))


def resolve_policy(session: Session, path: Path | None = None) -> LoadedPolicy:
    """The policy named on the command line (validated against the checks), else the one in force."""
    if path is None:
        return current_policy(session)
    from compliance.policy import read_policy_file

    current = (
        session.execute(
            select(Check.key, Check.procedure)
            .join(Catalog, Catalog.id == Check.catalog_id)
            .where(Catalog.is_current.is_(True))
        )
    ).all()
    known = set(session.execute(select(Check.key)).scalars())
    needed: dict[str, list[str]] = {}
    for key, procedure in current:
        for name in (procedure or {}).get("thresholds", []):
            needed.setdefault(name, []).append(key)
    loaded = parse_policy(read_policy_file(path), known, needed)
    refuse_baseline_impostor(session, loaded)
    return loaded


def framework_row(
    session: Session, framework: str, *, catalog_ids: Sequence[int] | None = None
) -> Catalog:
    """The framework's current catalog row (or the one among `catalog_ids`)."""
    q = select(Catalog).where(Catalog.kind == "framework", Catalog.key == framework)
    q = (
        q.where(Catalog.id.in_(catalog_ids))
        if catalog_ids is not None
        else q.where(Catalog.is_current.is_(True))
    )
    row = session.execute(q).scalars().first()
    if row is None:
        known = (
            session.execute(
                select(Catalog.key)
                .where(Catalog.kind == "framework", Catalog.is_current.is_(True))
                .order_by(Catalog.key)
            )
            .scalars()
            .all()
        )
        raise NotFound(f"unknown framework {framework!r} (known: {', '.join(known)})")
    return row
